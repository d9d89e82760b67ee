"""Finding users' audio files for inference: files and folders, support folders per class, and
folders laid out by class."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from audiofsl.data.audio_io import AUDIO_EXTENSIONS, display_path

__all__ = ["class_folder_names", "find_audio_files", "support_classes"]

PathLike = str | os.PathLike


def find_audio_files(sources: PathLike | Sequence[PathLike], setting: str = "audio") -> list[str]:
    """The audio files named by ``sources``: files as given, folders scanned recursively.

    A folder contributes its files with an audio extension (:data:`AUDIO_EXTENSIONS`, any case)
    at any depth, sorted; hidden files and folders are skipped. A file named explicitly is kept
    whatever its extension (it is reported later if it cannot be decoded).

    Args:
        sources: a file, a folder, or a list of them.
        setting: the setting that named them, for error messages.

    Returns:
        The files' paths, in the order given (each folder's sorted).

    Raises:
        FileNotFoundError: naming ``setting`` when a source does not exist.
        ValueError: naming ``setting`` when no audio file is found.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    files: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            files += audio_files_below(path)
        elif path.exists():
            files.append(str(path))
        else:
            raise FileNotFoundError(f"{setting}: '{display_path(path)}' does not exist.")
    if not files:
        raise ValueError(
            f"{setting}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in "
            f"{[display_path(s) for s in sources]}."
        )
    return files


def audio_files_below(folder: Path) -> list[str]:
    """Sorted paths of the audio files at any depth below ``folder`` (hidden ones skipped)."""
    found = []
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        found += [
            os.path.join(directory, name)
            for name in names
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS
        ]
    return sorted(found)


def support_classes(folder: PathLike, setting: str = "support") -> dict[str, list[str]]:
    """``{class: audio files}`` of a folder holding one sub-folder per class.

    Args:
        folder: ``<folder>/<class>/<clip>.wav`` (files at any depth below a class folder).
        setting: the setting that named the folder, for error messages.

    Returns:
        The classes in name order, each with its sorted files (possibly none).

    Raises:
        FileNotFoundError, ValueError: naming ``setting`` when the folder is missing or has no
            class sub-folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{setting}: '{display_path(folder)}' is not a folder; give a folder with one "
            "sub-folder of audio files per class."
        )
    classes = {
        child.name: audio_files_below(child)
        for child in sorted(folder.iterdir())
        if child.is_dir() and not child.name.startswith(".")
    }
    if not classes:
        raise ValueError(
            f"{setting}: '{display_path(folder)}' has no sub-folders; lay it out as "
            "<folder>/<class>/<clip>.wav, one sub-folder per class."
        )
    return classes


def class_folder_names(folder: PathLike) -> list[str]:
    """The classes of a folder laid out as ``<folder>/<class>/<clip>.wav``, else ``[]``.

    A folder is read as one folder per class when no audio file lies directly in it and at
    least two of its sub-folders (hidden ones skipped) hold audio files at some depth.

    Returns:
        The names of the sub-folders that hold audio files, sorted; ``[]`` for another layout.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    children = sorted(child for child in folder.iterdir() if not child.name.startswith("."))
    if any(child.is_file() and child.suffix.lower() in AUDIO_EXTENSIONS for child in children):
        return []
    classes = [child.name for child in children if child.is_dir() and audio_files_below(child)]
    return classes if len(classes) >= 2 else []
