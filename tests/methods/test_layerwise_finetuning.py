"""Layer-wise learning rates when HeadFirstFinetuning unfreezes a pretrained encoder."""

import pytest
import torch
from torch import nn

from audiofsl.frontends import Waveform
from audiofsl.methods.finetuning import HeadFirstFinetuning

pytest.importorskip("transformers")

from audiofsl.encoders.pretrained.transformers_audio import TransformersAudioEncoder  # noqa: E402


class Module(nn.Module):
    def __init__(self, encoder):
        super().__init__()
        self.frontend, self.encoder, self.head = Waveform(), encoder, nn.Linear(4, 3)


def test_each_layer_below_the_top_gets_a_decayed_rate(tiny_models):
    encoder = TransformersAudioEncoder(
        str(tiny_models("wav2vec2")), freeze=False, adapter={"out_dim": 4}
    )
    module = Module(encoder)
    schedule = HeadFirstFinetuning(head_only_epochs=1, encoder_lr_factor=0.1, layer_decay=0.5)
    schedule.freeze_before_training(module)
    assert not any(p.requires_grad for p in encoder.parameters())
    optimizer = torch.optim.Adam(module.head.parameters(), lr=1e-2)
    schedule.finetune_function(module, epoch=1, optimizer=optimizer)
    groups = optimizer.param_groups[1:]
    assert [g["lr"] for g in groups] == pytest.approx([1e-3, 5e-4, 2.5e-4])  # top first
    top = {id(p) for p in groups[0]["params"]}
    assert {id(p) for p in encoder.model.encoder.layers[1].parameters()} <= top
    assert {id(p) for p in encoder.adapter.parameters()} <= top  # the adapter sits on top
    added = sum(len(g["params"]) for g in groups)
    assert added == len(list(encoder.parameters()))
    assert all(p.requires_grad for p in encoder.parameters())


def test_a_frozen_encoder_cannot_be_fine_tuned(tiny_models):
    module = Module(TransformersAudioEncoder(str(tiny_models("wav2vec2"))))
    with pytest.raises(ValueError, match="encoder.freeze=false"):
        HeadFirstFinetuning().freeze_before_training(module)


def test_layer_decay_is_checked():
    with pytest.raises(ValueError, match="layer_decay=0"):
        HeadFirstFinetuning(layer_decay=0)
