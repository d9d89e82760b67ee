"""The command line a new user meets: typos answered with "did you mean", one message per user
error, plain-text logs when piped, quiet runs, --help per command, --cfg job --resolve.

What ends before a command's task function (help, config printing, composition errors) runs in
this process through ``run_command``; whole commands, with real piped output, are ``slow``.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from hydra.utils import get_class, instantiate
from lightning.pytorch.utilities.model_summary import summarize
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from omegaconf import OmegaConf
from rich import get_console

from audiofsl import enrol, predict, prepare_data, study, train
from audiofsl import eval as evaluate
from audiofsl.runs import cli
from audiofsl.runs.composition import build_datamodule, build_method
from audiofsl.runs.errors import user_error_message
from audiofsl.runs.quiet import quiet_known_warnings
from audiofsl.train import check_trainer_settings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")
ANSI_ESCAPE = "\x1b["
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
#: Settings that keep a run (or its start) small.
SMALL = ["data.n_classes=20", "data.clips_per_class=10", "data.split.sizes=[10,5,5]"]
#: Each command's main function and primary config.
COMMANDS = {
    "train": (train.main, "train"), "eval": (evaluate.main, "eval"),
    "predict": (predict.main, "predict"), "enrol": (enrol.main, "enrol"),
    "study": (study.main, "study"), "prepare_data": (prepare_data.main, "prepare_data"),
}  # fmt: skip


def run_in_process(monkeypatch, capsys, command: str, *args: str) -> tuple[int, str, str]:
    """``run_command`` of a command as ``python -m audiofsl.<command> ARGS`` runs it, for what
    ends before its task function: the exit status (0 when it returns), stdout and stderr."""
    main, config_name = COMMANDS[command]
    monkeypatch.setattr(sys, "argv", [command, *args])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    try:
        cli.run_command(main, config_name)
        status = 0
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_command(command: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m audiofsl.<command> ARGS`` with stdout and stderr piped, as a user's shell
    would run it (no colour forced or forbidden, no full tracebacks asked for)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("HYDRA_FULL_ERROR", "NO_COLOR", "FORCE_COLOR")}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", f"audiofsl.{command}", *args, f"hydra.run.dir={cwd / 'run'}"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


# --- a mistyped setting gets "did you mean" ----------------------------------------------------


def test_a_mistyped_setting_gets_the_setting_meant(monkeypatch, capsys):
    status, _, stderr = run_in_process(monkeypatch, capsys, "train", "sampler.n_shots=1")
    assert status == 1
    assert "sampler has no setting 'n_shots'. Did you mean sampler.n_shot?" in stderr
    assert "Traceback" not in stderr


def test_a_mistyped_group_gets_the_group_meant(monkeypatch, capsys):
    status, _, stderr = run_in_process(monkeypatch, capsys, "train", "encodr=crnn")
    assert status == 1
    assert "Did you mean encoder?" in stderr


@pytest.mark.parametrize("args", [("+experiment=synthetic_cola", "loss=cpl"),
                                  ("method=simclr", "head=linear")])  # fmt: skip
def test_a_group_the_method_does_not_take_is_refused(monkeypatch, capsys, args):
    status, _, stderr = run_in_process(monkeypatch, capsys, "train", *args)
    group = args[1].split("=")[0]
    assert status == 1 and "Traceback" not in stderr
    assert f"{args[1]}: this run's method takes no {group} group" in stderr
    assert "method=protonet, method=supervised, method=view_attention do" in stderr
    assert f"+{group}=" not in stderr  # Hydra's advice would add a group nothing reads


def test_a_part_group_is_composed_exactly_when_the_method_reads_it(compose_config):
    experiments = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    without = []
    for overrides in [[], *([f"+experiment={name}"] for name in experiments)]:
        cfg = compose_config("train", overrides)
        method = OmegaConf.to_yaml(cfg.method)  # unresolved: ${head...} where it is read
        for group in ("head", "loss"):
            assert (group in cfg) == ("${" + group in method), (overrides, group)
        if "loss" not in cfg:
            without.append(overrides[0])
    assert "+experiment=synthetic_cola" in without and "+experiment=esc50_relationnet" in without


def test_a_mistyped_setting_beside_a_sweep_gets_the_setting_meant(monkeypatch, capsys):
    args = ("-m", "seed=0,1", "sampler.n_wy=3")
    status, _, stderr = run_in_process(monkeypatch, capsys, "train", *args)
    assert status == 1
    assert "Did you mean sampler.n_way?" in stderr


def test_a_mistyped_setting_added_with_plus_gets_the_setting_meant(compose_config):
    cfg = compose_config("train", ["+sampler.n_shots=1"])
    with pytest.raises(Exception, match="unexpected keyword argument 'n_shots'") as caught:
        instantiate(cfg.sampler)
    message = user_error_message(caught.value, ["+sampler.n_shots=1", "seed=1"], lambda: cfg)
    assert message == (
        "+sampler.n_shots=1: sampler takes no setting 'n_shots'. Did you mean sampler.n_shot?"
    )


def test_an_unexpected_keyword_not_from_the_command_line_is_a_bug(compose_config):
    cfg = compose_config("train", ["+sampler.n_shots=1"])
    with pytest.raises(Exception, match="unexpected keyword") as caught:
        instantiate(cfg.sampler)
    assert user_error_message(caught.value, ["seed=1"], lambda: cfg) is None


@pytest.mark.slow
def test_the_whole_command_answers_both_typos(tmp_path):
    plain = run_command("train", "sampler.n_shots=1", cwd=tmp_path)
    added = run_command("train", "+sampler.n_shots=1", *SMALL, cwd=tmp_path)
    for done in (plain, added):
        assert done.returncode == 1
        assert "Did you mean sampler.n_shot?" in done.stderr
        assert "Traceback" not in done.stderr and "unexpected keyword" not in done.stderr
    assert "+sampler.n_shots=1: sampler takes no setting 'n_shots'" in added.stderr


# --- one message for a user error, a traceback for a bug ---------------------------------------


def test_an_empty_folder_is_a_user_error(compose_config, tmp_path):
    (tmp_path / "empty").mkdir()
    cfg = compose_config("train", ["data=folder", f"data.root={tmp_path / 'empty'}"])
    with pytest.raises(ValueError) as caught:
        datamodule = build_datamodule(cfg)
        datamodule.prepare_data()
        datamodule.setup(None)
    message = user_error_message(caught.value)
    assert message is not None and "empty" in message


@pytest.mark.slow
def test_an_empty_folder_prints_one_message_and_no_traceback(tmp_path):
    (tmp_path / "empty").mkdir()
    done = run_command("train", "data=folder", f"data.root={tmp_path / 'empty'}", cwd=tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and str(tmp_path / "empty") in errors[0], done.stderr
    assert "HYDRA_FULL_ERROR=1" in done.stderr


def test_a_required_setting_left_out_is_named():
    with pytest.raises(Exception) as caught:
        _ = OmegaConf.create({"run_dir": "???"}).run_dir
    assert user_error_message(caught.value) == (
        "run_dir is required: add run_dir=... to the command (--help describes it)."
    )


def test_a_setting_error_raised_by_audiofsl_is_a_user_error():
    with pytest.raises(ValueError) as caught:
        check_trainer_settings(OmegaConf.create({"max_epochs": "ten"}))
    assert user_error_message(caught.value) == str(caught.value)


def test_errors_raised_outside_audiofsl_are_bugs():
    with pytest.raises(ValueError) as caught:
        int("ten")
    assert user_error_message(caught.value) is None
    assert user_error_message(KeyError("n_way")) is None


def test_a_missing_file_is_a_user_error_wherever_raised(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        (tmp_path / "missing.csv").read_text()
    assert "missing.csv" in user_error_message(caught.value)


def _raise_a_bug() -> None:
    raise RuntimeError("an internal inconsistency")


def test_a_bug_keeps_its_traceback(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["audiofsl"])
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.run_command(_raise_a_bug)
    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert "Traceback" in stderr and "RuntimeError: an internal inconsistency" in stderr
    assert "HYDRA_FULL_ERROR" not in os.environ  # set for the command only


def test_full_error_shows_the_traceback_of_a_user_error(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["audiofsl"])
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")

    def user_error() -> None:
        check_trainer_settings(OmegaConf.create({"max_epochs": "ten"}))

    with pytest.raises(ValueError, match="trainer.max_epochs"):
        cli.run_command(user_error)


# --- output people can read --------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _console_formatter(stream: io.StringIO) -> logging.Formatter:
    """The console formatter of the commands' log configuration, with stdout as ``stream``."""
    with initialize_config_module("audiofsl.conf", version_base="1.3"):
        cfg = compose("train", return_hydra_config=True)
    settings = OmegaConf.to_container(cfg.hydra.job_logging.formatters.colorlog)
    assert settings.pop("stream") == "ext://sys.stdout"
    settings["fmt"] = settings.pop("format")  # as logging's dictConfig passes it
    return get_class(settings.pop("()"))(stream=stream, **settings)


def test_logs_are_coloured_only_on_a_terminal(monkeypatch):
    for variable in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    record = logging.LogRecord("audiofsl.data", logging.INFO, "", 0, "indexed", None, None)
    piped, terminal = _console_formatter(io.StringIO()), _console_formatter(_Terminal())
    assert ANSI_ESCAPE not in piped.format(record)
    assert ANSI_ESCAPE in terminal.format(record)


@pytest.mark.slow
def test_piped_logs_have_no_colour_codes(tmp_path):
    done = run_command("prepare_data", *SMALL, f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[audiofsl." in done.stdout  # the log lines themselves
    assert ANSI_ESCAPE not in done.stdout and ANSI_ESCAPE not in done.stderr


def test_lightning_notices_users_cannot_act_on_are_silenced():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_known_warnings()
        rank_zero_warn(
            "Total length of `list` across ranks is zero. Please make sure this was your intention."
        )
        warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("a warning that matters", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning that matters"]


def test_the_model_summary_leaves_out_flops_it_cannot_count(compose_config):
    cfg = compose_config("train", [])
    summary_callback = instantiate(cfg.callbacks.model_summary)
    summary = summarize(build_method(cfg), max_depth=1)
    assert summary.total_flops == 0
    with get_console().capture() as captured:
        summary_callback.summarize(
            summary._get_summary_data(), summary.total_parameters, summary.trainable_parameters,
            summary.model_size, summary.total_training_modes, summary.total_flops,
        )  # fmt: skip
    text = captured.get()
    assert "encoder" in text and "trainable" in text
    assert "FLOPs" not in text


@pytest.mark.slow
def test_a_run_without_validation_prints_no_library_noise(tmp_path):
    """A whole run: plain text, none of Lightning's notices, TensorBoard kept by +debug=fast."""
    done = run_command(
        "train", "+debug=fast", "data.n_classes=10", "data.clips_per_class=10",
        "data.split.sizes=[5,0,5]", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
        "frontend.n_mels=32", "encoder.hidden_channels=8", "evaluation.test.0.n_tasks=10",
        f"paths.data_dir={tmp_path / 'data'}", cwd=tmp_path,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    assert "test/acc" in done.stdout
    for noise in ("across ranks is zero", "FLOPs", "LeafSpec", "on_after_batch_transfer"):
        assert noise not in output, noise
    assert ANSI_ESCAPE not in output
    assert (tmp_path / "run" / "tensorboard").is_dir()


# --- inspection and help -----------------------------------------------------------------------


def test_cfg_job_resolve_prints_build_time_values_as_placeholders(monkeypatch, capsys):
    args = ("--cfg", "job", "--resolve", "frontend.n_mels=32")
    status, stdout, stderr = run_in_process(monkeypatch, capsys, "train", *args)
    assert status == 0, stderr
    assert "n_features: '<frontend.n_features: known once the parts are built>'" in stdout
    assert "n_mels: 32" in stdout and "n_way: 5" in stdout  # the rest resolved
    assert "Traceback" not in stderr


def test_placeholders_are_for_printing_only(compose_config):
    config = OmegaConf.create({"n": "${part:frontend.n_features}"})
    a_run = ["--resolve"]  # without --cfg the command runs, and its builds must be right
    with cli._build_values_shown(a_run), pytest.raises(Exception, match="only known while"):
        _ = config.n
    with cli._build_values_shown(["--cfg", "job", "--resolve"]):
        assert config.n == cli.part_placeholder("frontend.n_features")
    with pytest.raises(Exception, match="only known while"):
        _ = config.n
    method = build_method(compose_config("train", ["frontend.n_mels=32"]))
    assert method.run_config["encoder"]["n_features"] == method.frontend.n_features == 32


@pytest.mark.parametrize(
    ("command", "present", "absent"),
    [
        ("train", ["encoder: ast, clap, cnn14, conv4,", "sampler: batch, episodic",
                   "resume=RUN_DIR"], []),
        ("eval", ["audiofsl.eval run_dir=RUN", "mode: episodes", "finetune:"],
         ["encoder:", "augmentation:", "experiment:"]),
        ("predict", ["audiofsl.predict run_dir=RUN", "top_k:"], ["encoder:", "experiment:"]),
        ("enrol", ["audiofsl.enrol run_dir=RUN", "support:"], ["encoder:", "experiment:"]),
        ("study", ["audiofsl.study data.root=PATH", "n_per_class:"], ["experiment:"]),
        ("prepare_data", ["audiofsl.prepare_data", "data: birdclef2020"], []),
    ],
)  # fmt: skip
def test_each_command_describes_its_own_settings(monkeypatch, capsys, command, present, absent):
    status, stdout, stderr = run_in_process(monkeypatch, capsys, command, "--help")
    assert status == 0, stderr
    for text in present:
        assert text in stdout, text
    for text in absent:
        assert text not in stdout, text


def test_the_fast_debug_run_keeps_tensorboard(compose_config):
    cfg = compose_config("train", ["+debug=fast"])
    assert cfg.logger.tensorboard is not None and cfg.logger.csv is not None


def test_data_goes_to_the_user_cache_whatever_the_working_folder(compose_config, monkeypatch):
    monkeypatch.delenv("AUDIOFSL_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/cache/of/the/user")
    assert compose_config("train", []).paths.data_dir == "/cache/of/the/user/audiofsl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert compose_config("train", []).paths.data_dir == "/home/someone/.cache/audiofsl"
    monkeypatch.setenv("AUDIOFSL_DATA_DIR", "/data/audiofsl")
    assert compose_config("train", []).paths.data_dir == "/data/audiofsl"


def test_the_test_session_never_writes_into_the_user_cache():
    data_dir = Path(os.environ["AUDIOFSL_DATA_DIR"])
    assert not data_dir.is_relative_to(Path.home() / ".cache")
