"""Supplies sent outside the upload site arrive in AES-256 encrypted zips (protocol 6.ii): `lcp ingest`
reads them in memory with the password from LCP_ZIP_PASSWORD or a prompt, never writing the plain file."""
from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from pathlib import Path

import pyzipper
import pytest
import yaml

from pipelines import audit_log, config, ingest
from pipelines.cli import main
from pipelines.restricted_store import RestrictedStore

from test_supplies_corpus import AGREEMENT, GOOD, NAME, csv_bytes

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LCP_ZIP_PASSWORD", raising=False)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: no prompt
    return tmp_path


def aes_zip(path: Path, members: dict[str, bytes], password: str = PASSWORD, bits: int = 256) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with pyzipper.AESZipFile(path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as zf:
        zf.setpassword(password.encode())
        zf.setencryption(pyzipper.WZ_AES, nbits=bits)
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def zipcrypto_like(path: Path, members: dict[str, bytes]) -> Path:
    """A zip whose members are flagged as (traditional PKWARE / ZipCrypto) encrypted, without AES."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    raw = bytearray(path.read_bytes())
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := raw.find(sig, start)) >= 0:
            raw[i + offset] |= 0x01
            start = i + 4
    path.write_bytes(bytes(raw))
    return path


def supplier_folder(root: Path) -> Path:
    folder = root / "yos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agreement.yaml").write_text(yaml.safe_dump(AGREEMENT), encoding="utf-8")
    return folder


def listing(*dirs: Path) -> set[str]:
    return {str(p) for d in dirs if d.exists() for p in d.rglob("*")}


def test_aes_zip_in_a_supplier_folder_loads_without_writing_the_plain_file(env, monkeypatch, capsys):
    monkeypatch.setenv("LCP_ZIP_PASSWORD", PASSWORD)
    folder = supplier_folder(env / "in")
    aes_zip(folder / "supplies.zip", {f"export/{NAME}": csv_bytes(GOOD)})
    main(["ingest", str(folder.parent)])  # creates the store etc. once; a second load is a replacement
    capsys.readouterr()
    before_in, before_tmp = listing(env / "in"), listing(env / "tmp")
    before_data = listing(config.data_dir())
    assert main(["ingest", str(folder.parent)]) == 0
    out = capsys.readouterr().out
    assert f"supplies.zip:export/{NAME}" in out and "3 rows" in out
    assert listing(env / "in") == before_in  # nothing extracted beside the zip
    assert listing(env / "tmp") == before_tmp == set()  # nor into a temporary folder
    new = listing(config.data_dir()) - before_data
    assert all(Path(p).parent == config.reports_dir() / "yos" for p in new), new  # only the new report
    with RestrictedStore() as store:
        assert store.supplies()["rows"].to_list() == [3]
    found = b"".join(Path(p).read_bytes() for p in listing(config.data_dir()) if Path(p).is_file())
    assert b"YP0001" not in found and b"15/10/2010" not in found
    last = audit_log.entries()[-1]
    assert last["action"] == "replace" and last["file"].endswith(f"supplies.zip:export/{NAME}")


def test_zip_of_supplier_folders(env, monkeypatch, capsys):
    monkeypatch.setenv("LCP_ZIP_PASSWORD", PASSWORD)
    z = aes_zip(env / "sent" / "all.zip", {
        "yos/agreement.yaml": yaml.safe_dump(AGREEMENT).encode(),
        f"yos/{NAME}": csv_bytes(GOOD),
    })
    assert main(["ingest", str(z)]) == 0  # the zip itself
    assert main(["ingest", str(z.parent)]) == 0  # or a folder holding it
    with RestrictedStore() as store:
        assert store.supplies()["period"].to_list() == ["2023/24"]
        assert store.agreement("yos").supplier_code == "yos"
    assert listing(env / "sent") == {str(z)}


def test_prompted_once_in_a_terminal(env, monkeypatch, capsys):
    folder = supplier_folder(env / "in")
    aes_zip(folder / "a.zip", {NAME: csv_bytes(GOOD)})
    aes_zip(folder / "b.zip", {"yjs_disposals_2022-23.csv": csv_bytes(GOOD)})
    asked = []
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr(ingest.getpass, "getpass", lambda prompt: asked.append(prompt) or PASSWORD)
    main(["ingest", str(folder.parent)])
    assert len(asked) == 1


@pytest.mark.parametrize("case", ["wrong password", "no password", "zipcrypto", "not encrypted", "aes-128",
                                  "not a zip"])
def test_bad_zip_is_one_line_and_loads_nothing(env, monkeypatch, capsys, case):
    folder = supplier_folder(env / "in")
    (folder / "yjs_disposals_2022-23.csv").write_bytes(csv_bytes(GOOD))  # a good plain supply beside it
    members = {NAME: csv_bytes(GOOD)}
    z = folder / "supplies.zip"
    if case != "no password":
        monkeypatch.setenv("LCP_ZIP_PASSWORD", PASSWORD)
    if case == "wrong password":
        aes_zip(z, members, password="not it")
    elif case in ("no password", "aes-128"):
        aes_zip(z, members, bits=256 if case == "no password" else 128)
    elif case == "zipcrypto":
        zipcrypto_like(z, members)
    elif case == "not encrypted":
        with zipfile.ZipFile(z, "w") as zf:
            zf.writestr(NAME, csv_bytes(GOOD))
    else:
        z.write_bytes(b"PK\x03\x04 this is not really a zip")
    code = main(["ingest", str(folder.parent)])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("lcp ingest: error: ") and "supplies.zip" in err
    words = {"wrong password": "wrong password", "no password": "LCP_ZIP_PASSWORD", "zipcrypto": "ZipCrypto",
             "not encrypted": "not encrypted", "aes-128": "AES-128", "not a zip": "not a readable zip"}[case]
    assert words in err, err
    assert not config.restricted_db_path().exists()  # nothing loaded, not even the plain supply
    assert audit_log.entries()[-1]["action"] == "reject"
    assert listing(env / "tmp") == set()
