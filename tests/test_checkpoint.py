"""Checkpoints: atomic writes, clear errors, no arbitrary unpickling."""

import os
import pickle

import pytest
import torch

from thermogan.errors import CheckpointError
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint

STATE = {"step": 3, "generator": {"w": torch.ones(2)}, "discriminator": {}, "g_optimizer": {},
         "d_optimizer": {}, "rng": {"python": (3, (1, 2), None)}, "config": {"name": "x"}}


def test_round_trip_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "c" / "latest.pt"
    save_checkpoint(STATE, path)
    assert os.listdir(path.parent) == ["latest.pt"]
    back = load_checkpoint(path)
    assert back["step"] == 3 and torch.equal(back["generator"]["w"], torch.ones(2))


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "latest.pt"
    save_checkpoint(STATE, path)
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        save_checkpoint({**STATE, "bad": lambda: 0}, path)  # cannot be pickled
    assert load_checkpoint(path)["step"] == 3
    assert os.listdir(tmp_path) == ["latest.pt"]


@pytest.mark.parametrize("failure", ["torch", "os"])
def test_a_full_disk_is_said_in_our_words_and_keeps_the_previous_checkpoint(tmp_path,
                                                                            monkeypatch, failure):
    """torch reports a write that ran out of space as "enforce fail at inline_container.cc:672
    ... unexpected pos"; the OS as ENOSPC."""
    import errno
    import shutil

    path = tmp_path / "latest.pt"
    save_checkpoint(STATE, path)

    def full(state, handle):
        handle.write(b"half a checkpoint")
        if failure == "torch":
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 "
                               "vs 17")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    free = 0 if failure == "torch" else 10**9  # torch's words say nothing: the free space does
    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, free))
    with pytest.raises(CheckpointError) as err:
        save_checkpoint({**STATE, "step": 4}, path)
    assert str(err.value) == (f"checkpoint {path} could not be written (the disk is full); the "
                              "previous checkpoint is kept")
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 3 and os.listdir(tmp_path) == ["latest.pt"]


def test_corrupt_and_missing_files_name_the_file(tmp_path):
    path = tmp_path / "latest.pt"
    save_checkpoint(STATE, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="latest.pt cannot be read") as info:
        load_checkpoint(path)
    assert str(info.value).endswith("(not a complete PyTorch file: truncated or corrupt)")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "none.pt")
    save_checkpoint({"step": 1}, path)
    with pytest.raises(CheckpointError, match="lacks generator"):
        load_checkpoint(path)


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_arbitrary_objects_are_not_unpickled(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({**STATE, "evil": Boom()}, path)
    with pytest.raises(CheckpointError, match="cannot be read") as info:
        load_checkpoint(path)
    message = str(info.value)
    # the refusal names what was refused and never repeats torch's unsafe advice
    assert "holds a Python object" in message and "arbitrary code" in message
    assert "weights_only" not in message and "\x1b" not in message and "\n" not in message
    path.write_bytes(pickle.dumps({"step": 1}))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_streams_saved_on_another_device_type_are_left_as_seeded():
    """A CUDA generator's state (16 bytes) does not fit a CPU generator: a CUDA run opened on the
    CPU keeps its fresh streams instead of failing."""
    from thermogan.train import rng

    streams = rng.streams(0, ["data", "latents"], torch.device("cpu"))
    state = rng.capture(streams)
    torch.randn(3, generator=streams["latents"])  # move latents on; data stays where it was
    moved = streams["latents"].get_state()
    state["streams"]["latents"] = torch.zeros(16, dtype=torch.uint8)  # as CUDA's
    rng.restore(streams, state)
    assert torch.equal(streams["latents"].get_state(), moved)
    assert torch.equal(streams["data"].get_state(), state["streams"]["data"])
