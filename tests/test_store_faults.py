"""nnrnn.store under faults: stale locks, read-only stores, dangling leftovers, blocked run paths,
unreadable run files, bad roots and unsafe names (issue 19)."""

import errno
import json
import os
import pathlib
import socket
import stat
import time

import psutil
import pytest

from nnrnn import executors, profiles, runlock, store


def _lock(tmp_path):
    folder = tmp_path / "runs" / "copy" / "0123456789ab"
    lock = folder.parent / f".{folder.name}.lock"
    lock.parent.mkdir(parents=True)
    return folder, lock


def _age(path, seconds):
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


# ----------------------------------------------------------------------------- locks expire
@pytest.mark.parametrize("text", ["", '{"pid": 12', "[]", '{"host": "x"}'])
def test_an_empty_or_garbled_lock_expires_after_the_grace_period(tmp_path, text):
    folder, lock = _lock(tmp_path)
    lock.write_text(text)
    # young: its writer may be writing it right now, so it is honoured, and named
    holder = store.lock_run(folder)
    assert holder is not None and str(lock) in holder and lock.read_text() == text
    # past the grace period its writer was killed (or the disk was full): the next sweep takes it over
    _age(lock, runlock.LOCK_GRACE_S + 1)
    assert store.lock_run(folder) is None
    assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_a_lock_from_before_a_restart_is_stale(tmp_path, monkeypatch):
    folder, lock = _lock(tmp_path)
    monkeypatch.setattr(runlock, "boot_id", lambda: "boot-now")
    me = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}  # its pid is alive (ours)
    lock.write_text(json.dumps(dict(me, boot="boot-now")))
    assert store.lock_run(folder) == f"process {os.getpid()} on {socket.gethostname()}"
    lock.write_text(json.dumps(dict(me, boot="boot-before")))
    assert store.lock_run(folder) is None
    assert json.loads(lock.read_text())["boot"] == "boot-now"


def test_a_lock_older_than_its_process_is_stale(tmp_path):
    """PID reuse: the process with the lock's pid started after the lock was made, so it is not its maker."""
    folder, lock = _lock(tmp_path)
    started = psutil.Process().create_time()
    mine = {"pid": os.getpid(), "host": socket.gethostname(), "boot": runlock.boot_id()}
    lock.write_text(json.dumps(dict(mine, time=started + 1)))  # made after we started: ours, honoured
    assert store.lock_run(folder) is not None
    lock.write_text(json.dumps(dict(mine, time=started - runlock.START_SLACK_S - 3600)))
    assert store.lock_run(folder) is None


def test_a_live_claim_is_honoured_and_another_hosts_expires(tmp_path):
    folder, lock = _lock(tmp_path)
    assert store.lock_run(folder) is None
    assert set(json.loads(lock.read_text())) == {"pid", "host", "boot", "time"}
    assert store.lock_run(folder) == f"process {os.getpid()} on {socket.gethostname()}"
    store.unlock_run(folder)
    assert not lock.exists()
    other = {"pid": 1, "host": socket.gethostname() + "-elsewhere", "boot": "b"}
    lock.write_text(json.dumps(dict(other, time=time.time() - runlock.STALE_LOCK_S + 60)))
    assert store.lock_run(folder) == f"process 1 on {other['host']}"
    lock.write_text(json.dumps(dict(other, time=time.time() - runlock.STALE_LOCK_S - 60)))
    assert store.lock_run(folder) is None


def test_a_lock_that_cannot_be_written_is_not_left_behind(tmp_path, monkeypatch):
    folder, lock = _lock(tmp_path)

    def disk_full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runlock.json, "dump", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.lock_run(folder)
    assert not lock.exists()


# ----------------------------------------------------------------------------- unlock never raises
def _read_only(monkeypatch):
    def erofs(self, *a, **k):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(pathlib.Path, "unlink", erofs)


def test_unlock_on_a_read_only_store_warns_instead_of_raising(tmp_path, monkeypatch):
    folder, lock = _lock(tmp_path)
    assert store.lock_run(folder) is None
    _read_only(monkeypatch)
    with pytest.warns(RuntimeWarning, match=rf"could not release the run lock {lock}.*Read-only file system"):
        store.unlock_run(folder)
    assert lock.exists()
    store.unlock_run(tmp_path / "runs" / "copy" / "ffffffffffff")  # no lock: nothing to say


def test_the_real_error_of_a_sweep_is_not_masked_by_its_unlock(tmp_path, monkeypatch):
    """``run_missing`` releases its locks in ``finally``: an EROFS there must not replace the write's
    error, which is reported in ``outcome.unstored`` (a failed write never aborts the other runs)."""
    runs = ["0123456789ab"]

    def submit(ex, threads, unit):
        return ex.submit(lambda: [{"hash": r} for r in unit])

    def write(run, payload):
        _read_only(monkeypatch)  # the store was remounted read-only while the run trained
        raise OSError(errno.EROFS, "the real error: Read-only file system")

    with pytest.warns(RuntimeWarning, match="could not release the run lock"):
        out = executors.run_missing([runs], submit, write, key=str, folder=lambda r: tmp_path / "runs" / "copy" / r,
                                    executor="serial", progress=False, on_error="raise")
    assert out.ran == [] and "the real error" in out.unstored[runs[0]]


# ----------------------------------------------------------------------------- leftover temporaries
def test_clean_temporaries_removes_links_without_following_them(tmp_path):
    task_dir = tmp_path / "runs" / "copy"
    task_dir.mkdir(parents=True)
    target = tmp_path / "precious"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    dangling, to_dir = task_dir / ".0123456789ab.deadbeef.tmp", task_dir / ".0123456789ab.cafecafe.old"
    dangling.symlink_to(tmp_path / "gone")
    to_dir.symlink_to(target, target_is_directory=True)
    for p in (dangling, to_dir, target):
        _age(p, 2 * store.STALE_TMP_S)
    assert store.clean_temporaries(task_dir) == 2
    assert not os.path.lexists(dangling) and not os.path.lexists(to_dir)
    assert (target / "keep.txt").read_text() == "keep"


def test_clean_temporaries_skips_entries_another_cleaner_removed(tmp_path, monkeypatch):
    """Two sweeps clean the same leftovers: an entry listed but gone before it is looked at is skipped."""
    task_dir = tmp_path / "runs" / "copy"
    old = task_dir / ".0123456789ab.deadbeef.tmp"
    old.mkdir(parents=True)
    (old / "weights.pt").write_bytes(b"x")
    _age(old, 2 * store.STALE_TMP_S)
    listed = [old, task_dir / ".0123456789ab.00000000.tmp"]  # the second was removed by the other cleaner
    monkeypatch.setattr(pathlib.Path, "iterdir", lambda self: iter(listed))
    assert store.clean_temporaries(task_dir) == 1 and not old.exists()


# ----------------------------------------------------------------------------- the run path
@pytest.mark.parametrize("blocker", ["file", "dangling link"])
def test_a_stray_entry_at_a_run_path_fails_before_the_run_is_written(tmp_path, blocker):
    final = tmp_path / "runs" / "copy" / "0123456789ab"
    final.parent.mkdir(parents=True)
    final.write_text("stray") if blocker == "file" else final.symlink_to(tmp_path / "gone")
    with pytest.raises(store.RunPathBlocked, match=rf"{final} is a .*; remove it") as e:
        store.check_run_path(final)
    assert isinstance(e.value, FileExistsError) and isinstance(e.value, ValueError)
    written = []
    with pytest.raises(FileExistsError, match=str(final)):
        store.write_run_dir(final, written.append)
    assert written == [] and [p.name for p in final.parent.iterdir()] == [final.name]
    assert store.check_run_path(tmp_path / "new") == tmp_path / "new"


def test_write_run_dir_syncs_the_parent_after_the_rename(tmp_path, monkeypatch):
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        st = os.fstat(fd)
        synced.append((st.st_dev, st.st_ino))
        if stat.S_ISDIR(st.st_mode):  # a filesystem that refuses to sync folders is tolerated
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    final = tmp_path / "runs" / "abc"
    store.write_run_dir(final, lambda d: (d / "config.json").write_text("{}"))
    parent = os.stat(final.parent)
    assert synced[-1] == (parent.st_dev, parent.st_ino) and (final / "config.json").read_text() == "{}"


# ----------------------------------------------------------------------------- unreadable run files
def _run(tmp_path, meta=None):
    folder = tmp_path / "run"
    folder.mkdir(parents=True)
    (folder / "history.csv").write_text("update\n1\n")
    meta = meta if meta is not None else {"hash": "x", "files": {"history.csv": store.file_sha256(folder / "history.csv")}}
    (folder / "config.json").write_text(json.dumps(meta))
    return folder


def test_a_config_json_that_is_a_folder_or_unreadable_is_named(tmp_path, monkeypatch):
    folder = tmp_path / "run"
    (folder / "config.json").mkdir(parents=True)
    with pytest.raises(store.RunCorrupt, match=rf"{folder / 'config.json'} cannot be read"):
        store.read_run_meta(folder)
    assert store.run_status(folder) == "incomplete"
    folder = _run(tmp_path / "b")
    real = pathlib.Path.read_text

    def denied(self, *a, **k):
        if self.name == "config.json":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(pathlib.Path, "read_text", denied)
    with pytest.raises(store.RunCorrupt, match=r"config\.json cannot be read \(Permission denied\)"):
        store.read_run_meta(folder)
    assert store.run_status(folder) == "incomplete"


@pytest.mark.parametrize("meta", [[], {"files": ["history.csv"]}])
def test_a_config_json_of_the_wrong_shape_is_refused(tmp_path, meta):
    folder = _run(tmp_path, meta)
    with pytest.raises(store.RunCorrupt, match=r"config\.json"):
        store.read_run_meta(folder)
    assert store.run_status(folder) in ("incomplete", "corrupt")


def test_an_unreadable_run_file_makes_the_run_corrupt_not_a_traceback(tmp_path, monkeypatch):
    folder = _run(tmp_path)
    assert store.run_status(folder) == "ok"

    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(store, "file_sha256", denied)
    with pytest.raises(store.RunCorrupt, match=rf"{folder / 'history.csv'} cannot be read \(Permission denied\)"):
        store.read_run_meta(folder)
    assert store.run_status(folder) == "corrupt"


# ----------------------------------------------------------------------------- roots and names
def test_an_empty_root_and_a_relative_results_dir_are_refused(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="empty root"):
        store.results_root("")
    monkeypatch.setenv("NNRNN_RESULTS_DIR", "relative/store")
    with pytest.raises(ValueError, match=r"NNRNN_RESULTS_DIR must be an absolute path.*'relative/store'"):
        store.results_root()
    assert store.results_root("relative/root") == pathlib.Path("relative/root")  # an explicit one is the caller's
    monkeypatch.setenv("NNRNN_RESULTS_DIR", str(tmp_path))
    assert store.results_root() == tmp_path


@pytest.mark.parametrize("experiment, profile", [("../../../x", "smoke"), ("a/b", "smoke"), (".hidden", "smoke"),
                                                  ("", "smoke"), ("exp", ""), ("exp", "../p"), ("exp", 5),
                                                  ("exp\n", "smoke")])
def test_run_or_load_refuses_names_that_are_not_one_folder(tmp_path, experiment, profile):
    root = tmp_path / "a" / "b" / "root"
    with pytest.raises(ValueError, match=r"must be one folder name .* got"):
        store.run_or_load(experiment, {"n": 1}, lambda: {"y": 1.0}, profile=profile, root=root)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []


#: every experiment name the package and the notebooks pass (`grep -rn "run_or_load(" nnrnn/ notebooks/`)
_EXPERIMENTS = ["psmnist_test", "nb01_memory_curves", "nb01_total_memory", "nb01_reference_table", "nb02_decoding",
                "nb03_henrici"]


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_run_or_load_accepts_every_name_in_use(tmp_path, profile):
    for experiment in _EXPERIMENTS:
        res = store.run_or_load(experiment, {"n": 1}, lambda: {"y": 1.0}, profile=profile, root=tmp_path)
        assert float(res["y"]) == 1.0 and (tmp_path / "results" / profile / experiment).is_dir()
