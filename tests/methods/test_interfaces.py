"""What inference asks a method: its classifier, threshold, training mean and prototype scorer,
through typed interfaces rather than attribute probes."""

import ast
from pathlib import Path

import torch
from test_contrastive_method import small
from test_relationnet import tiny_relationnet

from audiofsl.encoders import Conv4
from audiofsl.evaluation import PrototypeScorer
from audiofsl.frontends import LogMel
from audiofsl.heads import LinearHead
from audiofsl.losses import BCEWithLogitsLoss
from audiofsl.methods import ProtoNet, Supervised
from audiofsl.methods.interfaces import Classifier, DistanceScorer, Encoder, Scorer, StepLoss
from audiofsl.methods.relationnet import RelationScorer

INFERENCE = Path(__file__).resolve().parents[2] / "audiofsl" / "inference"


def parts():
    return LogMel(n_mels=32, n_fft=256, hop_length=64), Conv4(n_features=32, hidden_channels=8)


def test_the_project_parts_satisfy_the_interfaces():
    frontend, encoder = parts()
    assert isinstance(encoder, Encoder) and not isinstance(frontend, Encoder)
    assert isinstance(LinearHead(8, 3), Classifier)
    assert isinstance(PrototypeScorer(), DistanceScorer)
    relation = tiny_relationnet().scorer
    assert isinstance(relation, RelationScorer) and isinstance(relation, Scorer)
    assert not isinstance(relation, DistanceScorer)
    assert isinstance(BCEWithLogitsLoss(), StepLoss)


def test_each_method_family_answers_what_inference_asks():
    protonet = ProtoNet(*parts())
    assert protonet.training_classifier() is None and protonet.decision_threshold() is None
    assert protonet.prototype_scorer() is protonet.scorer
    assert tiny_relationnet().prototype_scorer() is None  # scored by its relation module
    supervised = Supervised(*parts(), n_classes=3)
    assert supervised.training_classifier() is supervised.head
    assert supervised.decision_threshold() is None
    multi = Supervised(*parts(), n_classes=3, loss=BCEWithLogitsLoss(), multi_label=True,
                       test_by="classifier")  # fmt: skip
    assert torch.equal(multi.decision_threshold(), torch.full((3,), 0.5))
    assert small().training_classifier() is None
    clar = small(classifier=LinearHead)
    assert clar.training_classifier() is clar.classifier and clar.n_classes == 3


def test_the_training_mean_is_none_until_an_epoch_has_been_seen():
    method = ProtoNet(*parts())
    assert method.fitted_train_mean() is None
    method.track_train_embeddings(torch.ones(4, method.encoder.out_dim))
    method.on_train_epoch_end()
    assert torch.equal(method.fitted_train_mean(), torch.ones(method.encoder.out_dim))


def test_inference_never_probes_a_methods_attributes():
    probes = []
    for path in sorted(INFERENCE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in (
                "getattr",
                "hasattr",
            ):
                probes.append(f"{path.name}:{node.lineno}")
    assert probes == []
