"""Training through a compiled encoder (callbacks.compile): eager's steps, evaluation untouched."""

from __future__ import annotations

import shutil

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from test_entry_points import TINY

from audiofsl.runs.compilation import CompiledTraining
from audiofsl.runs.composition import build_datamodule, build_method

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

STEPS = 4


class StepLosses(L.Callback):
    """The loss of every training step, and whether a compiled encoder was in place for it."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.compiled: list[bool] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(outputs["loss"].item())
        self.compiled.append(pl_module.training_encoder is not None)


class CountingBackend:
    """A ``torch.compile`` backend that runs each traced graph as it is, counting the graphs."""

    def __init__(self) -> None:
        self.graphs = 0

    def __call__(self, graph_module: torch.fx.GraphModule, example_inputs):
        self.graphs += 1
        return graph_module.forward


def fit_steps(cfg, compile_callback: L.Callback, device: str = "cpu"):
    """``STEPS`` training steps of the configured method; returns it and the step losses."""
    torch.manual_seed(0)
    datamodule, method, recorder = build_datamodule(cfg), build_method(cfg), StepLosses()
    trainer = L.Trainer(
        accelerator=device, devices=1, max_steps=STEPS, limit_val_batches=0,
        num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
        callbacks=[compile_callback, recorder],
    )  # fmt: skip
    trainer.fit(method, datamodule=datamodule)
    return method, recorder


@pytest.fixture
def tiny_run(compose_config, tmp_path):
    return compose_config("train", TINY, tmp_path / "data")


def assert_same_training(eager, compiled, rtol: float, parameters: bool = True) -> None:
    """The same step losses, the eager module's state-dict keys and, with ``parameters``, the
    same trained values. Adam moves a parameter whose gradient is near zero by about the
    learning rate whatever the gradient's size, so parameters are compared only where the
    steps compute alike, not between kernels that round differently."""
    (eager_method, eager_steps), (compiled_method, compiled_steps) = eager, compiled
    assert len(compiled_steps.losses) == STEPS
    assert compiled_steps.compiled == [True] * STEPS and eager_steps.compiled == [False] * STEPS
    assert compiled_method.training_encoder is None  # fitting is over: evaluation is eager
    assert torch.allclose(torch.tensor(compiled_steps.losses), torch.tensor(eager_steps.losses),
                          rtol=rtol, atol=rtol)  # fmt: skip
    eager_state, compiled_state = eager_method.state_dict(), compiled_method.state_dict()
    assert list(compiled_state) == list(eager_state)  # checkpoints are the eager module's
    if not parameters:
        return
    for key, value in eager_state.items():
        assert torch.allclose(compiled_state[key].float(), value.float(), rtol=rtol, atol=rtol), key


def test_the_default_config_leaves_training_eager(tiny_run):
    callback = instantiate(tiny_run.callbacks.compile)
    assert isinstance(callback, CompiledTraining) and callback.mode is None
    _, steps = fit_steps(tiny_run, callback)
    assert steps.compiled == [False] * STEPS


def test_training_steps_through_the_traced_encoder_are_eagers_steps(tiny_run):
    backend = CountingBackend()
    eager = fit_steps(tiny_run, CompiledTraining(mode=None))
    compiled = fit_steps(tiny_run, CompiledTraining(mode="default", backend=backend))
    assert backend.graphs >= 1  # the encoder was traced, and its graph ran the steps
    assert_same_training(eager, compiled, rtol=1e-5)
    assert eager[1].losses[0] != eager[1].losses[-1]  # the steps trained something


def test_an_unknown_mode_names_the_setting_and_the_choices():
    with pytest.raises(ValueError, match=r"callbacks.compile.mode='fast'.*reduce-overhead"):
        CompiledTraining(mode="fast")


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("clang++")),
                    reason="inductor's CPU kernels need a C++ compiler")  # fmt: skip
def test_inductor_compiled_training_follows_eager_on_the_cpu(tiny_run):
    eager = fit_steps(tiny_run, CompiledTraining(mode=None))
    compiled = fit_steps(tiny_run, CompiledTraining(mode="default"))
    # fused kernels round differently from eager's
    assert_same_training(eager, compiled, rtol=1e-3, parameters=False)


@pytest.mark.gpu
def test_cuda_graph_training_follows_eager(tiny_run, monkeypatch):
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    eager = fit_steps(tiny_run, CompiledTraining(mode=None), device="gpu")
    compiled = fit_steps(tiny_run, CompiledTraining(mode="reduce-overhead"), device="gpu")
    assert_same_training(eager, compiled, rtol=1e-3, parameters=False)
