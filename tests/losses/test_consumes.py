import inspect

import pytest

from audiofsl import losses

LOSSES = [
    losses.AngularPrototypicalLoss,
    losses.CrossEntropyLoss,
    losses.PrototypicalContrastiveLoss,
    losses.PrototypicalLoss,
    losses.RelationMSELoss,
]


@pytest.mark.parametrize("loss_cls", LOSSES)
def test_consumes_names_the_forward_arguments(loss_cls):
    parameters = list(inspect.signature(loss_cls.forward).parameters)[1:]
    assert loss_cls.consumes == tuple(parameters)
    assert loss_cls.consumes in {("support", "query"), ("logits", "labels"), ("scores", "labels")}
