"""Fault-injection fixtures: verbs run in-process through ``segstudio.cli.main`` (the one error
path), tiny tmpfs mounts for a full disk and a read-only disk (root only; skipped with the
reason where mounting is refused), and the bad files the cases need, made here."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import pytest

from faulthelpers import write_images

from segstudio.cli import main


class Cli:
    """Runs ``segstudio ARGS`` in-process; every run asserts no traceback reached the user."""

    def __init__(self, capsys) -> None:
        self.capsys = capsys

    def __call__(self, *args) -> tuple[int, str, str]:
        self.capsys.readouterr()
        rc = main([str(a) for a in args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in err and "Traceback" not in out, err
        return rc, out, err


@pytest.fixture
def cli(capsys) -> Cli:
    return Cli(capsys)


def _mount(target: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (disk-full / read-only cases)")
    target.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"mount -t tmpfs refused here: {r.stderr.strip() or r.returncode}")


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30)


class Tmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path

    def remount(self, options: str) -> None:
        r = subprocess.run(["mount", "-o", f"remount,{options}", str(self.path)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr


def _tmpfs(target: Path, options: str):
    _mount(target, options)
    try:
        yield Tmpfs(target)
    finally:
        _umount(target)


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs: writes beyond it fail with ENOSPC."""
    yield from _tmpfs(tmp_path / "small-disk", "size=64k,mode=0755")


@pytest.fixture
def ro_disk(tmp_path):
    """A read-only tmpfs: every write fails with EROFS."""
    yield from _tmpfs(tmp_path / "ro-disk", "ro,size=64k,mode=0755")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A TorchScript model with 11 outputs (CamVid's class count) that runs at any size."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(4, 11, 1)).eval()
    path = tmp_path_factory.mktemp("model") / "tiny.ts"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still supported
        torch.jit.trace(net, torch.zeros(1, 3, 32, 32)).save(str(path))
    return path


@pytest.fixture(scope="session")
def project_maker():
    """make(folder, n): a project with n images, each with an edited mask."""
    from segstudio.core.labels import preset
    from segstudio.core.project import Project, Status

    import numpy as np

    def make(folder: Path, n: int = 3, size: tuple[int, int] = (24, 32)) -> Project:
        write_images(folder, n, size)
        project = Project(folder)
        labels = preset("camvid")
        for i, key in enumerate(project.keys()):
            mask = np.full(size, i % labels.num_classes, np.uint8)
            mask[:4] = (i + 1) % labels.num_classes
            project.write_mask(key, mask, Status.EDITED)
        return project

    return make
