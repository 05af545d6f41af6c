"""The files of a registered model version, fetched as a serving runtime fetches them.

KServe and Seldon load a model from its storage location (the version's source, resolved:
`models:/m-…` and `runs:/…/model` point into the artifact store); they never see the
`registered_model_meta` file MLflow adds when a `models:/NAME/VERSION` URI is downloaded.
The digest of what serves must be the digest of that storage location's files, so this
downloads the location itself with the MLflow client (the `mlflow` extra).
"""

from __future__ import annotations

import re
from pathlib import Path

_REF = re.compile(r"^models:/([^/@]+)/([^/@]+)$")


class DownloadError(ValueError):
    """The model version cannot be fetched; the message says why."""


def download_version(url: str, ref: str, dst: Path) -> tuple[str, Path]:
    """(storage location, local folder or file) of `models:/NAME/VERSION` from the registry at url."""
    match = _REF.match(ref)
    if not match:
        raise DownloadError(f"'{ref}' is not a model version reference models:/NAME/VERSION")
    name, version = match[1], match[2]
    try:
        import mlflow.artifacts
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException
    except ImportError:
        raise DownloadError("the MLflow client is not installed: pip install 'model-gatekeeper[mlflow]'") from None
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    try:
        location = client.get_model_version_download_uri(name, version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=location, dst_path=str(dst), tracking_uri=url)
    except MlflowException as exc:
        raise DownloadError(f"MLflow at {url.rstrip('/')}: {ref}: {_first_line(exc.message)}") from None
    except Exception as exc:  # noqa: BLE001 - the artifact store's client (S3, GCS, HTTP) failing, named
        raise DownloadError(f"cannot download {ref} from its storage location: {type(exc).__name__}: "
                            f"{_first_line(str(exc))}") from None
    return location, Path(local)


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0]
