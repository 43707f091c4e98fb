"""stars models in PyTorch: the LoopLM, its tokenizers (stars' vocabularies and byte-level
BPE from a Hugging Face tokenizer.json), loading and saving run directories
and safetensors files, models in the Hugging Face layout of Ouro's checkpoints (load_hf,
save_hf), greedy decoding at any depth, the Jacobian diagnostics, and the check
that prompts have the format a task model was trained on.

    import stars_torch as st
    model = st.load("models/stars-add4")
    st.answer(model, st.Tokenizer(), ["1234+5678="], depth=64, max_tokens=6)

Helpers take `depth` (loops) and `max_tokens`, as the CLI's --depths and --max-tokens; the
former names n_loops and max_new_tokens still work, with a DeprecationWarning.
"""
from .bpe import BpeTokenizer, TokenizerFileError
from .dynamics import loop_diagnostics, spectral_radius, vjp
from .exit_gate import exit_distribution, exit_probability
from .generate import answer, greedy_decode
from .hf import load_hf, save_hf
from .io import load, load_archive, save
from .model import LoopLM, model_config, relative_residual
from .prompt_format import in_training_format, training_format_warning
from .token_exit import parse_token_exit
from .tokenizer import ByteTokenizer, Tokenizer, answer_text, tokenizer_for

__all__ = ["BpeTokenizer", "ByteTokenizer", "TokenizerFileError", "LoopLM", "Tokenizer", "answer", "answer_text", "exit_distribution",
           "exit_probability", "greedy_decode", "load_hf", "save_hf",
           "in_training_format", "load", "load_archive", "loop_diagnostics", "model_config",
           "parse_token_exit",
           "relative_residual", "save", "spectral_radius", "tokenizer_for",
           "training_format_warning", "vjp"]
__version__ = "0.1.0"
