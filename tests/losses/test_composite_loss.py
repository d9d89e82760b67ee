import pytest
import torch

from audiofsl.losses import (
    CompositeLoss,
    CrossEntropyLoss,
    LossTerm,
    PrototypicalContrastiveLoss,
    PrototypicalLoss,
)
from audiofsl.losses.composite import as_composite


def test_total_is_the_weighted_sum_of_terms_each_fed_what_it_consumes():
    torch.manual_seed(0)
    logits, labels = torch.randn(10, 5), torch.randint(0, 5, (10,))
    support, query = torch.randn(1, 5, 2, 8), torch.randn(1, 5, 3, 8)
    cpl = PrototypicalContrastiveLoss(n_candidates=2, temperature=0.5)
    loss = CompositeLoss({"proto": PrototypicalLoss(), "cpl": {"loss": cpl, "weight": 0.3}})
    assert loss.consumes == ("logits", "labels", "support", "query")
    outputs = {"logits": logits, "labels": labels, "support": support, "query": query}
    torch.manual_seed(1)
    terms = loss(outputs)
    torch.manual_seed(1)
    expected_cpl = cpl(support, query)
    expected_proto = torch.nn.functional.cross_entropy(logits, labels)
    assert torch.allclose(terms["proto"], expected_proto)
    assert torch.allclose(terms["cpl"], expected_cpl)
    assert torch.allclose(terms["loss"], expected_proto + 0.3 * expected_cpl)


def test_term_parameters_are_trained_with_the_method():
    projection = torch.nn.Linear(8, 8)
    cpl = PrototypicalContrastiveLoss(projection=projection)
    loss = CompositeLoss({"cpl": LossTerm(cpl, 2.0)})
    assert any(p is projection.weight for p in loss.parameters())


def test_bad_terms_and_missing_outputs_are_named():
    with pytest.raises(ValueError, match="empty"):
        CompositeLoss({})
    with pytest.raises(ValueError, match="'loss' is reserved"):
        CompositeLoss({"loss": CrossEntropyLoss()})
    with pytest.raises(ValueError, match="loss.terms.mse.*consumes"):
        CompositeLoss({"mse": torch.nn.MSELoss()})
    loss = as_composite(PrototypicalContrastiveLoss())
    with pytest.raises(ValueError, match=r"consumes \['support', 'query'\] but the method"):
        loss({"logits": torch.randn(2, 2), "labels": torch.tensor([0, 1])})
    assert as_composite(loss) is loss
