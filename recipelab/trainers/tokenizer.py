"""One caption tokenizer per run.

Built once from the pool's texts (word level, lowercase, punctuation split) and saved as a
`tokenizers` JSON file, so every probe of a run uses the same vocabulary and the probes stay
comparable. When a probe fine-tunes a checkpoint, the checkpoint's own tokenizer is used instead
(`ProbeTokenizer.from_pretrained`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
# Order matters: eos must not get id 2 (CLIP's legacy pooling then takes the argmax token id).
SPECIALS = [PAD, UNK, BOS, EOS]
DEFAULT_VOCAB_SIZE = 8192
DEFAULT_MAX_LEN = 24


class ProbeTokenizer:
    """Caption -> fixed-width id matrix. Two backends: our word-level tokenizer or a checkpoint's."""

    def __init__(self, tokenizer: Tokenizer | None = None, *, hf_tokenizer=None, max_len: int = DEFAULT_MAX_LEN):
        if (tokenizer is None) == (hf_tokenizer is None):
            raise ValueError("give exactly one of tokenizer / hf_tokenizer")
        self.tokenizer = tokenizer
        self.hf_tokenizer = hf_tokenizer
        self.max_len = int(max_len)
        if tokenizer is not None:
            self.pad_id = tokenizer.token_to_id(PAD)
            self.bos_id = tokenizer.token_to_id(BOS)
            self.eos_id = tokenizer.token_to_id(EOS)
            self.unk_id = tokenizer.token_to_id(UNK)
            self.vocab_size = tokenizer.get_vocab_size()
        else:
            tok = hf_tokenizer
            self.eos_id = tok.eos_token_id
            self.bos_id = tok.bos_token_id
            self.unk_id = tok.unk_token_id
            self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
            self.vocab_size = len(tok)

    # ----------------------------------------------------------------- building / io
    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        vocab_size: int = DEFAULT_VOCAB_SIZE,
        min_frequency: int = 1,
        max_len: int = DEFAULT_MAX_LEN,
    ) -> ProbeTokenizer:
        """Word-level vocabulary of the most frequent (lowercased) words of `texts`."""
        tok = Tokenizer(models.WordLevel(unk_token=UNK))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
        trainer = trainers.WordLevelTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIALS), show_progress=False
        )
        tok.train_from_iterator(texts, trainer=trainer)
        bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{BOS} $A {EOS}", special_tokens=[(BOS, bos), (EOS, eos)]
        )
        return cls(tok, max_len=max_len)

    def save(self, path: str | os.PathLike) -> Path:
        if self.tokenizer is None:
            raise ValueError("a checkpoint tokenizer is saved with its checkpoint")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        self.tokenizer.save(tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, max_len: int = DEFAULT_MAX_LEN) -> ProbeTokenizer:
        return cls(Tokenizer.from_file(str(path)), max_len=max_len)

    @classmethod
    def build_or_load(
        cls, path: str | os.PathLike, texts: Iterable[str], *, max_len: int = DEFAULT_MAX_LEN, **build_kwargs
    ) -> ProbeTokenizer:
        """Load the run's tokenizer from `path`, or build it from `texts` and save it there."""
        if Path(path).exists():
            return cls.load(path, max_len=max_len)
        tok = cls.build(texts, max_len=max_len, **build_kwargs)
        tok.save(path)
        return tok

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, *, max_len: int = DEFAULT_MAX_LEN) -> ProbeTokenizer:
        """A checkpoint's tokenizer (AutoTokenizer from a local folder, no network)."""
        from transformers import AutoTokenizer

        return cls(hf_tokenizer=AutoTokenizer.from_pretrained(str(path), local_files_only=True), max_len=max_len)

    def to_hf(self):
        """A transformers fast tokenizer wrapping ours (e.g. to `save_pretrained` next to a model)."""
        if self.hf_tokenizer is not None:
            return self.hf_tokenizer
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(
            tokenizer_object=self.tokenizer,
            pad_token=PAD,
            unk_token=UNK,
            bos_token=BOS,
            eos_token=EOS,
            model_max_length=self.max_len,
        )

    def with_max_len(self, max_len: int) -> ProbeTokenizer:
        if self.tokenizer is not None:
            return ProbeTokenizer(self.tokenizer, max_len=max_len)
        return ProbeTokenizer(hf_tokenizer=self.hf_tokenizer, max_len=max_len)

    # ----------------------------------------------------------------- encoding
    def encode(self, texts: Sequence[str], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids int64 (N, L), lengths int64 (N,)); each row is bos .. eos, right-padded with pad_id.

        Captions longer than L are truncated, always keeping the final eos (CLIP pools there).
        """
        L = int(max_len or self.max_len)
        n = len(texts)
        ids = np.full((n, L), self.pad_id, dtype=np.int64)
        lengths = np.zeros(n, dtype=np.int64)
        if n == 0:
            return ids, lengths
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if self.tokenizer is not None:
            encs = [e.ids for e in self.tokenizer.encode_batch(texts)]
        else:
            encs = self.hf_tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        for i, row in enumerate(encs):
            if len(row) > L:
                row = list(row[: L - 1]) + [row[-1]]  # keep the closing eos
            ids[i, : len(row)] = row
            lengths[i] = len(row)
        return ids, lengths

    def decode(self, ids: Sequence[int]) -> str:
        if self.tokenizer is not None:
            return self.tokenizer.decode(list(ids), skip_special_tokens=True)
        return self.hf_tokenizer.decode(list(ids), skip_special_tokens=True)
