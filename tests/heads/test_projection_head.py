import pytest
import torch
import torch.nn.functional as F

from audiofsl.heads import ProjectionHead


def loop_mlp(head, x):
    """Reference for one vector without batch norm: Linear-ReLU per hidden layer, Linear."""
    linears = [m for m in head.mlp if isinstance(m, torch.nn.Linear)]
    h = x.double()
    for i, layer in enumerate(linears):
        h = layer.weight.double() @ h + layer.bias.double()
        if i < len(linears) - 1:
            h = h.clamp_min(0)
    return h


@pytest.mark.parametrize("hidden_dims", [(), (6,), (6, 5)])
def test_matches_loop_reference_with_any_leading_dims(hidden_dims):
    torch.manual_seed(0)
    head = ProjectionHead(8, hidden_dims, out_dim=4, normalize=False)
    assert head(torch.zeros(8)).shape == (4,)
    x = torch.randn(2, 3, 8)
    out = head(x)
    assert out.shape == (2, 3, 4) and head.out_dim == 4
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(out[i, j], loop_mlp(head, x[i, j]).float())


def test_normalized_outputs_have_unit_norm():
    torch.manual_seed(1)
    head = ProjectionHead(256, (128,), 256)  # the CPL head of Sgouropoulos et al.
    raw = ProjectionHead(256, (128,), 256, normalize=False)
    raw.load_state_dict(head.state_dict())
    x = torch.randn(4, 5, 256)
    out = head(x)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(4, 5))
    torch.testing.assert_close(out, raw(x) / raw(x).norm(dim=-1, keepdim=True))


def test_identity_mode_only_normalizes():
    head = ProjectionHead(6, hidden_dims=(), out_dim=None)
    x = torch.randn(3, 6)
    assert head.out_dim == 6 and list(head.parameters()) == []
    torch.testing.assert_close(head(x), F.normalize(x, dim=-1))


def test_batch_norm_head_flattens_leading_dims():
    torch.manual_seed(2)
    head = ProjectionHead(512, (512,), 128, batch_norm=True)  # CLAR's head
    kinds = [type(m).__name__ for m in head.mlp]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    x = torch.randn(2, 4, 512)
    out = head(x)
    assert out.shape == (2, 4, 128)
    head.eval()
    torch.testing.assert_close(head(x)[1], head(x[1]))  # per-row in eval mode
    out.sum().backward()


def test_errors():
    with pytest.raises(ValueError, match="in_dim"):
        ProjectionHead(0)
    with pytest.raises(ValueError, match="hidden_dims"):
        ProjectionHead(8, (0,))
    with pytest.raises(ValueError, match="out_dim=None"):
        ProjectionHead(8, (4,), out_dim=None)
    with pytest.raises(ValueError, match="in_dim=8"):
        ProjectionHead(8)(torch.randn(2, 7))


def test_cola_head_is_dense_layer_norm_tanh():
    torch.manual_seed(3)
    head = ProjectionHead(
        16, (), 512, output_norm="layer", output_activation="tanh", normalize=False
    )
    assert [type(m).__name__ for m in head.mlp] == ["Linear"]
    assert isinstance(head.output_norm, torch.nn.LayerNorm)
    with torch.no_grad():  # non-trivial affine parameters of the layer norm
        head.output_norm.weight.uniform_(0.5, 1.5)
        head.output_norm.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 16)
    out = head(x)
    assert out.shape == (2, 3, 512)
    norm = head.output_norm
    for i in range(2):
        for j in range(3):
            h = loop_mlp(head, x[i, j])
            mean = sum(h.tolist()) / 512
            var = sum((v - mean) ** 2 for v in h.tolist()) / 512
            h = (h - mean) / (var + norm.eps) ** 0.5 * norm.weight.double() + norm.bias.double()
            torch.testing.assert_close(out[i, j], torch.tanh(h).float())
    out.sum().backward()
    assert head.output_norm.weight.grad is not None


@pytest.mark.parametrize("output_norm", ["none", "layer"])
@pytest.mark.parametrize("output_activation", ["none", "tanh"])
def test_output_norm_and_activation_come_before_l2_normalisation(output_norm, output_activation):
    torch.manual_seed(4)
    kwargs = dict(output_norm=output_norm, output_activation=output_activation)
    head = ProjectionHead(8, (6,), 4, **kwargs)
    raw = ProjectionHead(8, (6,), 4, normalize=False, **kwargs)
    raw.load_state_dict(head.state_dict())
    x = torch.randn(5, 8)
    torch.testing.assert_close(head(x), F.normalize(raw(x), dim=-1))
    if output_activation == "tanh":
        assert raw(x).abs().max() < 1
    if output_norm == "layer":
        h = raw.mlp(x)
        pre = torch.atanh(raw(x)) if output_activation == "tanh" else raw(x)
        torch.testing.assert_close(
            pre, torch.nn.functional.layer_norm(h, (4,)), atol=1e-4, rtol=1e-4
        )


def test_defaults_unchanged():
    head = ProjectionHead(256, (128,), 256)
    assert head.output_norm is None and head.output_activation == "none"
    assert sorted(head.state_dict()) == ["mlp.0.bias", "mlp.0.weight", "mlp.2.bias", "mlp.2.weight"]


def test_output_option_errors():
    with pytest.raises(ValueError, match="output_norm must be one of"):
        ProjectionHead(8, output_norm="batch")
    with pytest.raises(ValueError, match="output_activation must be one of"):
        ProjectionHead(8, output_activation="relu")
