"""Build the small byte-level BPE tokenizer shipped with the tiny model cards.

The tiny cards carry a tokenizer so that vLLM's own tools (`vllm bench`, the
OpenAI server) can run them. It is trained on seeded synthetic text, so its
merges mean nothing; only its size (the card's vocab_size) matters.

    python -m bench.inputs.tiny_tokenizer models/tiny-dense models/tiny-moe
"""

import json
import random
import sys
from pathlib import Path

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]  # ids 0-3, as in the tiny configs
SYLLABLES = ["ka", "to", "ri", "men", "sol", "ar", "ve", "quin", "lo", "dus", "pra", "tek", "ni", "or", "bel"]


def synthetic_text(lines: int = 4000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ["".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(3000)]
    return [" ".join(rng.choices(words, k=12)) + rng.choice([".", ",", "?", "!"]) for _ in range(lines)]


def build_tokenizer(vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(synthetic_text(), trainer)
    return tokenizer


def write_tokenizer(card_dir: Path) -> None:
    from transformers import PreTrainedTokenizerFast

    vocab_size = json.loads((card_dir / "config.json").read_text())["vocab_size"]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(vocab_size),
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=json.loads((card_dir / "config.json").read_text())["max_position_embeddings"],
    )
    if len(fast) != vocab_size:
        raise SystemExit(f"{card_dir}: tokenizer has {len(fast)} tokens, config says {vocab_size}")
    fast.save_pretrained(card_dir)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        write_tokenizer(Path(path))
        print(f"wrote tokenizer to {path}")
