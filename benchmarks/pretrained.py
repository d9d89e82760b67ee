"""Speed of pretrained encoders: clips/s of embedding, and a second pass through the embedding
cache against the first, printed as JSON.

Each encoder is built at its published size with random weights (the compute of the published
checkpoint, with no download): transformers models from their default or base configurations,
saved to a temporary folder and loaded by
:class:`~audiofsl.encoders.pretrained.transformers_audio.TransformersAudioEncoder`; CNN14 and
EfficientAT mn10 with ``pretrained=False``, given the cache their published checkpoints get.
Input: ``--clips`` clips of ``--seconds`` s at 16 kHz (resampled on the device to the model's
rate), in batches of ``--batch-size``, frozen, in inference mode. ``first_pass_s`` embeds every
clip and writes the cache; ``second_pass_s`` reads them all back (``cache_speedup`` is their
ratio).

Usage: ``python benchmarks/pretrained.py [--device cuda] [--clips 16] [--encoders ast,cnn14]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

RATE = 16000


def transformers_encoder(name: str, folder: Path, cache_dir: Path):
    """A base-size random transformers model saved in ``folder``, loaded as an encoder."""
    import transformers as hf

    from audiofsl.encoders.pretrained.transformers_audio import TransformersAudioEncoder

    torch.manual_seed(0)
    if name == "ast":
        model, extractor = hf.ASTModel(hf.ASTConfig()), hf.ASTFeatureExtractor()
    elif name in ("wav2vec2", "hubert", "wavlm"):
        config_cls, model_cls = {
            "wav2vec2": (hf.Wav2Vec2Config, hf.Wav2Vec2Model),
            "hubert": (hf.HubertConfig, hf.HubertModel),
            "wavlm": (hf.WavLMConfig, hf.WavLMModel),
        }[name]
        model, extractor = model_cls(config_cls()), hf.Wav2Vec2FeatureExtractor()
    elif name == "whisper":  # whisper-base's encoder size
        config = hf.WhisperConfig(d_model=512, encoder_layers=6, encoder_attention_heads=8,
                                  encoder_ffn_dim=2048, decoder_layers=1,
                                  decoder_attention_heads=8, num_mel_bins=80)  # fmt: skip
        model, extractor = hf.WhisperModel(config), hf.WhisperFeatureExtractor()
    elif name == "clap":  # LAION's HTS-AT tiny audio tower
        model = hf.ClapAudioModelWithProjection(hf.ClapAudioConfig(enable_fusion=False))
        extractor = hf.ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    else:
        raise ValueError(name)
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return TransformersAudioEncoder(str(folder), sample_rate=RATE, cache_dir=str(cache_dir))


def build(name: str, folder: Path, cache_dir: Path):
    if name not in ("cnn14", "mn10"):
        return transformers_encoder(name, folder, cache_dir)
    from audiofsl.encoders.pretrained import CNN14, EfficientATMN, EmbeddingCache

    encoder = (CNN14 if name == "cnn14" else EfficientATMN)(sample_rate=RATE, pretrained=False)
    # random weights are never cached; give them the cache a published checkpoint gets
    encoder.cache = EmbeddingCache(cache_dir, f"{name}-random")
    return encoder


def timed_pass(encoder, clips: torch.Tensor, batch_size: int, device: torch.device) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(clips), batch_size):
            encoder(clips[i : i + batch_size].to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def measure(name: str, args, device: torch.device) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        encoder = build(name, Path(tmp) / "model", Path(tmp) / "cache").to(device).eval()
        cache = encoder.cache
        generator = torch.Generator().manual_seed(1)
        clips = 0.1 * torch.randn(args.clips, int(args.seconds * RATE), generator=generator)
        warm = 0.1 * torch.randn(min(args.batch_size, 2), clips.shape[1], generator=generator)
        timed_pass(encoder, warm, args.batch_size, device)  # warm-up (allocations, kernels)
        first = timed_pass(encoder, clips, args.batch_size, device)
        second = timed_pass(encoder, clips, args.batch_size, device)
        parameters = sum(p.numel() for p in encoder.parameters())
        return {
            "parameters_millions": round(parameters / 1e6, 1),
            "embedding_dim": encoder.out_dim,
            "model_sample_rate": encoder.model_sample_rate,
            "clips_per_s": round(args.clips / first, 2),
            "first_pass_s": round(first, 3),
            "second_pass_s": round(second, 4),
            "cache_speedup": round(first / second, 1),
            "cached_windows": len(cache) if cache is not None else 0,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--encoders", default="cnn14,mn10,ast,wav2vec2,hubert,wavlm,whisper,clap")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = {name: measure(name, args, device) for name in args.encoders.split(",")}
    print(json.dumps({
        "benchmark": "pretrained_encoders",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch": torch.__version__, "python": platform.python_version(),
        "clips": args.clips, "seconds": args.seconds, "batch_size": args.batch_size,
        "encoders": results,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
