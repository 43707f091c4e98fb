"""stars models in PyTorch: the LoopLM, its tokenizer, loading and saving run directories
and safetensors files, greedy decoding at any depth, and the Jacobian diagnostics.

    import stars_torch as st
    model = st.load("models/stars-add4")
    st.answer(model, st.Tokenizer(), ["1234+5678="], n_loops=64, max_new_tokens=6)
"""
from .dynamics import loop_diagnostics, spectral_radius, vjp
from .generate import answer, greedy_decode
from .io import load, load_archive, save
from .model import LoopLM, model_config, relative_residual
from .tokenizer import ByteTokenizer, Tokenizer, answer_text, tokenizer_for

__all__ = ["ByteTokenizer", "LoopLM", "Tokenizer", "answer", "answer_text", "greedy_decode",
           "load", "load_archive", "loop_diagnostics", "model_config", "relative_residual",
           "save", "spectral_radius", "tokenizer_for", "vjp"]
__version__ = "0.1.0"
