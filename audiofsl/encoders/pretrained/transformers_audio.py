"""Audio models of Hugging Face transformers as audiofsl encoders (AST, CLAP's audio tower,
wav2vec 2.0 / HuBERT / WavLM, Whisper's encoder), loaded with ``from_pretrained``.

transformers is an optional dependency (``pip install audiofsl[pretrained]``); it is imported
when such an encoder is built. Loading is offline unless ``allow_download=true``: a local
folder (written by ``save_pretrained`` or ``hf download --local-dir``) always
works, and a hub name is looked up in the local Hugging Face cache only.
"""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path

import torch
from torch import Tensor, nn

from audiofsl.encoders.pretrained.base import PretrainedEncoder
from audiofsl.encoders.pretrained.weights import fingerprint, verify_sha256

log = logging.getLogger(__name__)

#: transformers ``model_type`` -> the family handled here.
FAMILIES = {
    "audio-spectrogram-transformer": "ast",
    "clap": "clap",
    "clap_audio_model": "clap",
    "wav2vec2": "wav2vec2",
    "hubert": "wav2vec2",
    "wavlm": "wav2vec2",
    "data2vec-audio": "wav2vec2",
    "unispeech-sat": "wav2vec2",
    "whisper": "whisper",
}
POOLINGS = ("mean", "max")
#: Weight files of a saved model folder, checked against ``sha256`` when one is given.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _transformers():
    try:
        import transformers
    except ImportError as error:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "Hugging Face encoders need transformers: pip install 'audiofsl[pretrained]'."
        ) from error
    return transformers


@contextlib.contextmanager
def _quiet_loading():
    """No per-tensor progress bar while weights load (one line per model is logged)."""
    hf_logging = _transformers().utils.logging
    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


class PerExampleNormalization(nn.Module):
    """wav2vec 2.0's input normalisation: each waveform to zero mean and unit variance
    (``(x - mean) / sqrt(var + 1e-7)``, the feature extractor's ``do_normalize``)."""

    def __init__(self, enabled: bool = True, sampling_rate: int = 16000) -> None:
        super().__init__()
        self.enabled, self.sampling_rate = enabled, sampling_rate

    def forward(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]``. Returns: ``[B, T]``."""
        if not self.enabled:
            return waveform
        mean = waveform.mean(dim=-1, keepdim=True)
        var = waveform.var(dim=-1, unbiased=False, keepdim=True)
        return (waveform - mean) / torch.sqrt(var + 1e-7)


class TransformersAudioEncoder(PretrainedEncoder):
    """A transformers audio model behind the encoder contract, its feature extraction on the
    device (:mod:`audiofsl.encoders.pretrained.features`).

    The embedding of a window:

    - AST (Gong et al., Interspeech 2021): the pooled output (mean of the [CLS] and
      distillation tokens after the final layer norm), or with ``layer`` set, that layer's
      tokens pooled;
    - CLAP (Elizalde et al. 2023; LAION's HTS-AT audio tower, Wu et al. 2023): the projected
      audio embedding of the joint audio-text space (rand_trunc models; fusion is refused);
    - wav2vec 2.0 / HuBERT / WavLM: the frames of ``layer`` (default the last) pooled;
    - Whisper (Radford et al. 2023): the encoder's frames that cover the audio (the rest is
      the 30 s padding Whisper's encoder requires) pooled.

    Args:
        source: a local folder (``save_pretrained``) or a hub name found in the local cache.
        sample_rate: the input waveform's rate (the data's); resampled on the device.
        layer: hidden state to pool (0: the embeddings, -1 or null: the last layer).
        pooling: ``mean`` or ``max`` over frames or tokens.
        allow_download: let transformers fetch a hub name that is not cached.
        sha256: expected SHA-256 of the folder's weight file (``model.safetensors``).
        revision: the hub revision (a commit pins it).
        freeze: keep the model fixed; train only the adapter and the method's head.
        adapter: :class:`~audiofsl.encoders.pretrained.base.Adapter` settings.
        cache_dir: folder caching a frozen model's embeddings per window (None: no cache).
    """

    def __init__(
        self,
        source: str,
        sample_rate: int = 16000,
        layer: int | None = None,
        pooling: str = "mean",
        allow_download: bool = False,
        sha256: str | None = None,
        revision: str | None = None,
        freeze: bool = True,
        adapter: dict | None = None,
        cache_dir: str | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"encoder.pooling={pooling!r}: choose one of {POOLINGS}.")
        if str(source).startswith("~"):  # a folder in the user's home
            source = str(Path(source).expanduser())
        self.source, self.layer, self.pooling = str(source), layer, pooling
        options = {"local_files_only": not allow_download, "revision": revision}
        config = self._load(lambda: _transformers().AutoConfig.from_pretrained(source, **options))
        self.model_type = config.model_type
        self.family = FAMILIES.get(config.model_type)
        if self.family is None:
            raise ValueError(
                f"encoder.source={source}: model type {config.model_type!r} is not an audio "
                f"model audiofsl wraps; supported: {sorted(FAMILIES)}."
            )
        self.model = self._load(lambda: self._model_class().from_pretrained(source, **options))
        if self.family == "whisper":  # the decoder is never used
            self.model = self.model.get_encoder()
        self.features = self._features(source, options)
        log.info("%s loaded from %s", type(self.model).__name__, source)
        self.weights_id = self._weights_id(source, sha256)
        self._check_layer()
        setup = {"freeze": freeze, "adapter": adapter, "cache_dir": cache_dir}
        dim = self._embedding_dim()
        self.setup_pretrained(sample_rate, self.features.sampling_rate, dim, **setup)

    # ------------------------------------------------------------------ loading
    def _load(self, load):
        try:
            with _quiet_loading():
                return load()
        except OSError as error:
            raise FileNotFoundError(
                f"encoder.source={self.source}: not a local model folder, and not in the local "
                "Hugging Face cache. Download it first (hf download "
                f"{self.source} --local-dir DIR) and set encoder.source=DIR, or set "
                f"encoder.allow_download=true. ({error})"
            ) from error

    def _model_class(self):
        transformers = _transformers()
        if self.family == "clap":
            return transformers.ClapAudioModelWithProjection
        if self.family == "whisper":
            return transformers.WhisperModel
        return transformers.AutoModel

    def _features(self, source: str, options: dict) -> nn.Module:
        from audiofsl.encoders.pretrained import features

        transformers = _transformers()
        try:
            extractor = transformers.AutoFeatureExtractor.from_pretrained(source, **options)
        except (OSError, ValueError):
            extractor = self._default_extractor()
            log.warning("%s has no preprocessor_config.json: using %s's defaults",
                        source, type(extractor).__name__)  # fmt: skip
        if self.family == "ast":
            return features.ASTFeatures.from_extractor(extractor)
        if self.family == "clap":
            return features.ClapFeatures.from_extractor(extractor)
        if self.family == "whisper":
            module = features.WhisperFeatures.from_extractor(extractor)
            expected = self.model.config.max_source_positions * 2
            if module.nb_max_frames != expected:
                raise ValueError(
                    f"encoder.source={source}: the feature extractor gives {module.nb_max_frames} "
                    f"frames, the encoder takes {expected} (max_source_positions * 2)."
                )
            return module
        return PerExampleNormalization(
            bool(getattr(extractor, "do_normalize", True)), extractor.sampling_rate
        )

    def _default_extractor(self):
        transformers = _transformers()
        cls = {"ast": transformers.ASTFeatureExtractor, "clap": transformers.ClapFeatureExtractor,
               "whisper": transformers.WhisperFeatureExtractor,
               "wav2vec2": transformers.Wav2Vec2FeatureExtractor}[self.family]  # fmt: skip
        return cls()

    def _weights_id(self, source: str, sha256: str | None) -> str:
        folder = Path(source).expanduser()
        if not folder.is_dir():  # a hub name: its cached snapshot
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(source, local_files_only=True))
        weights = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
        if sha256:
            if not weights:
                raise FileNotFoundError(
                    f"encoder.sha256 is set but {folder} holds none of {WEIGHT_FILES}."
                )
            verify_sha256(weights[0], sha256, "encoder.sha256")
        return fingerprint(weights[0] if weights else folder)

    def _check_layer(self) -> None:
        if self.layer is None:
            return
        if self.family == "clap":
            raise ValueError("encoder.layer: CLAP's embedding is its projection; leave it null.")
        n_layers = self._n_hidden_states()
        if not -n_layers <= self.layer < n_layers:
            raise ValueError(
                f"encoder.layer={self.layer}: the model has hidden states 0..{n_layers - 1}."
            )

    def _n_hidden_states(self) -> int:
        config = self.model.config
        layers = getattr(config, "num_hidden_layers", None) or config.encoder_layers
        return layers + 1

    def _embedding_dim(self) -> int:
        config = self.model.config
        if self.family == "clap":
            return int(config.projection_dim)
        return int(getattr(config, "hidden_size", None) or config.d_model)

    # ------------------------------------------------------------------ embedding
    def identity(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.source).name or self.source)
        return f"{self.model_type}-{name}-{self.weights_id}-l{self.layer}-{self.pooling}"

    def backbone_layers(self) -> list[nn.Module]:
        return [self.model]

    def layer_groups(self) -> list[list[nn.Parameter]]:
        """The model's parameters in blocks from input to output: what comes before its
        largest layer list, one group per layer, then what follows (e.g. the final norm) with
        the last layer."""
        layers = max((m for m in self.model.modules() if isinstance(m, nn.ModuleList)),
                     key=lambda m: sum(p.numel() for p in m.parameters()))  # fmt: skip
        in_layer = {id(p): i for i, layer in enumerate(layers) for p in layer.parameters()}
        groups: list[list[nn.Parameter]] = [[] for _ in range(len(layers) + 1)]
        seen_layer = False
        for parameter in self.model.parameters():
            index = in_layer.get(id(parameter))
            if index is not None:
                seen_layer = True
                groups[index + 1].append(parameter)
            else:
                groups[-1 if seen_layer else 0].append(parameter)
        return [group for group in groups if group]

    def embed_waveform(self, waveform: Tensor) -> Tensor:
        """Args: waveform ``[B, T]`` at the model's rate. Returns: ``[B, embedding_dim]``."""
        inputs = self.features(waveform)
        if self.family == "clap":
            is_longer = torch.zeros(len(waveform), 1, dtype=torch.bool, device=waveform.device)
            return self.model(input_features=inputs, is_longer=is_longer).audio_embeds
        hidden_states = self.layer is not None
        if self.family == "ast":
            out = self.model(input_values=inputs, output_hidden_states=hidden_states)
            if not hidden_states:
                return out.pooler_output
            return self._pool(out.hidden_states[self.layer])
        if self.family == "whisper":
            out = self.model(input_features=inputs, output_hidden_states=hidden_states)
            frames = out.hidden_states[self.layer] if hidden_states else out.last_hidden_state
            valid = self._whisper_frames(waveform.shape[-1], frames.shape[1])
            return self._pool(frames[:, :valid])
        out = self.model(input_values=inputs, output_hidden_states=hidden_states)
        frames = out.hidden_states[self.layer] if hidden_states else out.last_hidden_state
        return self._pool(frames)

    def _whisper_frames(self, n_samples: int, n_frames: int) -> int:
        """Encoder frames covering ``n_samples`` of audio (two mel hops each)."""
        per_frame = 2 * self.features.hop_length
        return max(1, min(n_frames, -(-n_samples // per_frame)))

    def _pool(self, frames: Tensor) -> Tensor:
        """``[B, L, D]`` -> ``[B, D]``."""
        return frames.mean(dim=1) if self.pooling == "mean" else frames.amax(dim=1)

    def forward_features(self, features: Tensor) -> Tensor:
        raise NotImplementedError(
            "TransformersAudioEncoder gives pooled embeddings only; methods that need a feature "
            "map (relation networks) take a convolutional encoder."
        )
