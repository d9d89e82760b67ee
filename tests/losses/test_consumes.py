import inspect

import pytest

from audiofsl import losses

LOSSES = [
    losses.AngularPrototypicalLoss,
    losses.ArcFaceLoss,
    losses.BCEWithLogitsLoss,
    losses.ColaLoss,
    losses.CrossEntropyLoss,
    losses.NTXentLoss,
    losses.PrototypicalContrastiveLoss,
    losses.PrototypicalLoss,
    losses.RelationMSELoss,
    losses.SigmoidFocalLoss,
    losses.SupConLoss,
]
KNOWN = {("support", "query"), ("logits", "labels"), ("scores", "labels"), ("views",),
         ("views", "labels"), ("logits", "targets"), ("embeddings", "labels")}  # fmt: skip


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_consumes_names_the_forward_arguments(loss_cls):
    parameters = list(inspect.signature(loss_cls.forward).parameters)[1:]
    assert loss_cls.consumes == tuple(parameters)
    assert loss_cls.consumes in KNOWN
