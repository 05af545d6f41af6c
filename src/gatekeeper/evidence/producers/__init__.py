"""Evidence producers: read the output of the tools data scientists already run (DVC, Great
Expectations, Evidently, SHAP, Presidio) and write it into an evidence bundle.

Each module is one tool and one plain function; `gatekeeper evidence <verb>` is a thin
wrapper around it. The tool libraries sit in optional extras and are imported inside the
functions only, so nothing here loads them on the webhook's import path.
"""
