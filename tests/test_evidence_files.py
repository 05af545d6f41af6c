"""The file evidence source: schema validation, errors naming file and field, aliases."""

import asyncio
import shutil

import pytest
import yaml

from gatekeeper.evidence.files import EvidenceRootError, FileEvidenceSource
from gatekeeper.evidence.source import EvidenceError
from gatekeeper.types.decision import ModelRef

from .conftest import EVIDENCE


def ref(name, version=None, alias=None):
    return ModelRef(ref=f"models:/{name}/{version}", name=name, version=version, alias=alias)


@pytest.fixture
def evidence_copy(tmp_path):
    root = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, root)
    return root


def edit_bundle(root, model, version, change):
    path = root / model / version / "evidence.yaml"
    bundle = yaml.safe_load(path.read_text())
    change(bundle)
    path.write_text(yaml.safe_dump(bundle))
    return path


def test_loads_the_example_bundle_and_its_files():
    loaded = asyncio.run(FileEvidenceSource(EVIDENCE).load(ref("credit-scoring", "3")))
    assert loaded.bundle.risk_class == "high"
    assert loaded.files["model-card.md"].startswith(b"# Credit scoring")
    assert loaded.files["signoffs/validator.dsse.json"] is not None


def test_unknown_field_names_the_file_and_the_field(evidence_copy):
    path = edit_bundle(evidence_copy, "credit-scoring", "3", lambda b: b["fairness"]["sex"].update(dp_ratoi=0.9))
    with pytest.raises(EvidenceError) as error:
        asyncio.run(FileEvidenceSource(evidence_copy).load(ref("credit-scoring", "3")))
    assert error.value.kind == "unreadable"
    # named relative to the evidence folder: messages reach people who do not see the server's disk
    shown = str(path.relative_to(evidence_copy))
    assert error.value.message.startswith(f"{shown}: ") and "fairness.sex.dp_ratoi" in error.value.message
    assert str(evidence_copy) not in error.value.message


def test_wrong_type_names_the_field(evidence_copy):
    edit_bundle(evidence_copy, "credit-scoring", "3", lambda b: b["pii_scan"].update(open_findings="none"))
    with pytest.raises(EvidenceError, match="pii_scan.open_findings"):
        asyncio.run(FileEvidenceSource(evidence_copy).load(ref("credit-scoring", "3")))


def test_malformed_yaml_is_unreadable(evidence_copy):
    (evidence_copy / "credit-scoring" / "3" / "evidence.yaml").write_text("model: [unclosed\n")
    with pytest.raises(EvidenceError, match="not valid YAML") as error:
        asyncio.run(FileEvidenceSource(evidence_copy).load(ref("credit-scoring", "3")))
    assert error.value.kind == "unreadable"


def test_missing_bundle_is_missing():
    with pytest.raises(EvidenceError) as error:
        asyncio.run(FileEvidenceSource(EVIDENCE).load(ref("no-such-model", "1")))
    assert error.value.kind == "missing" and "no-such-model version 1" in error.value.message


def test_bundle_for_another_version_is_a_mismatch(evidence_copy):
    edit_bundle(evidence_copy, "credit-scoring", "3", lambda b: b.update(version="4"))
    with pytest.raises(EvidenceError) as error:
        asyncio.run(FileEvidenceSource(evidence_copy).load(ref("credit-scoring", "3")))
    assert error.value.kind == "mismatch"


def test_alias_resolves_through_aliases_yaml():
    source = FileEvidenceSource(EVIDENCE)
    resolved = asyncio.run(source.resolve(ref("churn-predictor", alias="champion")))
    assert resolved.version == "7"
    with pytest.raises(EvidenceError, match="no alias 'canary'"):
        asyncio.run(source.resolve(ref("churn-predictor", alias="canary")))


def test_files_outside_the_bundle_folder_are_not_read(evidence_copy):
    edit_bundle(evidence_copy, "credit-scoring", "3", lambda b: b["model_card"].update(path="../../churn-predictor/7/model-card.md"))
    loaded = asyncio.run(FileEvidenceSource(evidence_copy).load(ref("credit-scoring", "3")))
    assert loaded.files["../../churn-predictor/7/model-card.md"] is None


def test_missing_root_is_a_configuration_error(tmp_path):
    with pytest.raises(EvidenceRootError, match="does not exist"):
        FileEvidenceSource(tmp_path / "nope")


# --- plain names, nothing read outside the evidence folder ------------------------------


@pytest.mark.parametrize("name, version", [("..", "3"), ("credit-scoring", ".."), (".", "3"), ("a/b", "3"),
                                           ("credit-scoring", "3\x00"), ("", "3"), ("x" * 201, "3")])
def test_non_plain_names_are_refused_before_any_read(evidence_copy, name, version):
    with pytest.raises(EvidenceError) as caught:
        asyncio.run(FileEvidenceSource(evidence_copy).load(ref(name, version)))
    assert caught.value.kind == "missing" and "no evidence is read" in caught.value.message


def test_symlinks_out_of_the_evidence_folder_are_not_followed(tmp_path, evidence_copy):
    outside = tmp_path / "outside"
    shutil.copytree(evidence_copy / "credit-scoring" / "3", outside / "3")
    (evidence_copy / "escape").mkdir()
    (evidence_copy / "escape" / "3").symlink_to(outside / "3")           # a version folder pointing out
    (evidence_copy / "elsewhere").symlink_to(outside)                    # a model folder pointing out
    (evidence_copy / "credit-scoring" / "99").mkdir()
    (evidence_copy / "credit-scoring" / "99" / "evidence.yaml").symlink_to(outside / "3" / "evidence.yaml")
    source = FileEvidenceSource(evidence_copy)
    for model, version in (("escape", "3"), ("elsewhere", "3"), ("credit-scoring", "99")):
        with pytest.raises(EvidenceError, match="outside the evidence folder"):
            asyncio.run(source.load(ref(model, version)))
    # a symlink that stays inside the folder is still read
    (evidence_copy / "credit-scoring" / "current").symlink_to(evidence_copy / "credit-scoring" / "3")
    with pytest.raises(EvidenceError) as mismatch:
        asyncio.run(source.load(ref("credit-scoring", "current")))
    assert mismatch.value.kind == "mismatch"


@pytest.mark.parametrize("model", [ModelRef(ref="models:/../3", name="..", version="3"),
                                   ModelRef(ref="models:/m@..", name="m", alias="..")])
def test_the_registry_source_refuses_the_same_names_before_asking(model):
    # Port 9 (discard) on loopback: were it asked, the error would be "unavailable".
    from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource

    source = MlflowEvidenceSource("http://127.0.0.1:9")
    for call in (source.resolve, source.load):
        with pytest.raises(EvidenceError) as caught:
            asyncio.run(call(model))
        assert caught.value.kind == "missing" and "is not a plain name" in caught.value.message
