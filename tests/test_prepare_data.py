"""python -m audiofsl.prepare_data: per-split and per-class summary of an indexed source."""

from pathlib import Path

from test_entry_points import write_tone_folder

from audiofsl.prepare_data import class_counts, summarize, write_counts
from audiofsl.runs.composition import build_datamodule


def test_summary_counts_every_class_of_every_split(compose_config, tmp_path):
    root = tmp_path / "audio"
    write_tone_folder(root, n_classes=9, clips=6, seconds=0.5)
    overrides = ["data=folder", f"data.root={root}", "data.split.sizes=[5,2,2]",
                 "sampler.n_way=3", "sampler.n_shot=1", "sampler.n_query=1",
                 "evaluation.val.n_way=2", "evaluation.test.0.n_way=2"]  # fmt: skip
    datamodule = build_datamodule(compose_config("train", overrides, tmp_path / "cache"))
    datamodule.setup(None)
    rows = class_counts(datamodule)
    assert [(r["split"], r["clips"]) for r in rows].count(("train", 6)) == 5
    assert sum(r["clips"] for r in rows) == 54 and {r["seconds"] for r in rows} == {3.0}
    table = summarize(datamodule, rows)
    assert table.row_count == 3
    path = write_counts(rows, tmp_path / "out" / "classes.csv")
    assert Path(path).read_text().splitlines()[0] == "split,class,clips,seconds"
    index_files = list((tmp_path / "cache" / "index").glob("FolderDataModule-*.csv"))
    assert len(index_files) == 1  # indexed once, kept for the next run
