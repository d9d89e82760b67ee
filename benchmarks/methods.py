"""Training speed of the few-shot methods, and a MetaAudio-style ProtoNet step, printed as JSON.

Setting: ESC-like 5 s clips at 16 kHz, 5-way 1-shot 5-query episodes, the default log-mel
frontend (``n_fft`` 1024, hop 512, 128 mels, per-example normalisation). One optimiser step is
what a training batch costs after it reached the device: features computed on the batch (the
training branch of ``FewShotMethod.on_after_batch_transfer``: views, augmentations, frontend),
``method.training_step``, backward and an Adam step. The batch comes from the episodic collate.

Part 1, ``methods``: ProtoNet, ProtoNet + CPL, ProtoNet + APL, RelationNet, view enrichment
(ProtoNet on 4 views, each view its own episode) and view attention (4 views fused by
self-attention), all on Conv4; steps/s and each step's time relative to ProtoNet's.

Part 2, ``metaaudio``: a ProtoNet step with MetaAudio's "Hybrid" architecture (4 conv blocks
with 3x3 max-pooling, an RNN of 64 units) against a reference step written the way MetaAudio's
public ProtoNet code trains (``proto_step_var``: the model embeds the support set and the query
set in two forward passes of precomputed log-mel features, then prototypes, squared euclidean
distances, log-softmax and NLL, backward, Adam). Its model mirrors MetaAudio's
``StandardHybrid`` (conv bias, residual connection around the RNN, last time step, dropout,
batch norm and a linear layer to 64 dimensions). audiofsl's step starts from raw audio and embeds
support and query in one forward pass; its conv blocks run channels-last and max-pool before the
ReLU (the same function as the reference's ReLU then pool, in fewer memory passes). The reference
runs in float32 (the goal compares against it) and, for context, in float64, as MetaAudio's
scripts cast the model to double. The same comparison with audiofsl's default CRNN (2x2 pooling,
LSTM; reference: the same encoder in two passes on precomputed features) is given for context.

Steps are timed in alternating rounds (one step of every candidate per round) so that all see
the same load on a shared machine; medians are reported.

Usage: ``python benchmarks/methods.py [--steps 10] [--warmup 2] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from audiofsl.augmentations import AugmentationPipeline, SpecAugment
from audiofsl.encoders import CRNN, Conv4
from audiofsl.frontends import LogMel
from audiofsl.heads import ProjectionHead, RelationModule, ViewAttention
from audiofsl.losses import (
    AngularPrototypicalLoss,
    CompositeLoss,
    LossTerm,
    PrototypicalContrastiveLoss,
    PrototypicalLoss,
)
from audiofsl.methods import FewShotMethod, ProtoNet, RelationNet, ViewAttentionProtoNet
from audiofsl.samplers.collate import EpisodeCollate

SAMPLE_RATE = 16000
CLIP_SAMPLES = 5 * SAMPLE_RATE
N_WAY, N_SHOT, N_QUERY = 5, 1, 5
N_VIEWS = 4

Step = Callable[[], None]


# ----------------------------------------------------------------------------- audiofsl side
def frontend() -> LogMel:
    return LogMel(sample_rate=SAMPLE_RATE, normalization="per_example")


def views() -> AugmentationPipeline:
    """The clip itself and three SpecAugment views (``conf/augmentation/magcil_views.yaml``)."""
    spec = SpecAugment(
        freq_mask_param=7, time_mask_param=7, n_freq_masks=2, n_time_masks=2, time_warp=20, p=0.3127
    )
    return AugmentationPipeline(spectrogram=[spec], n_views=N_VIEWS, keep_original=True)


def with_prototypical(name: str, term: nn.Module, weight: float) -> CompositeLoss:
    return CompositeLoss({"prototypical": PrototypicalLoss(), name: LossTerm(term, weight)})


def build_methods() -> dict[str, FewShotMethod]:
    """The methods as the experiment configs build them (Conv4, out_dim 512)."""
    dim = Conv4().out_dim
    cpl = PrototypicalContrastiveLoss(
        n_candidates=3, temperature=6.0488, projection=ProjectionHead(dim, (128,), 256)
    )
    apl = AngularPrototypicalLoss(alpha=40.0, angle=15.0, prototypes_as_anchors=True)
    attention = ViewAttention(dim, N_VIEWS, n_heads=1, ffn_dim=256, dropout=0.1)
    return {
        "protonet": ProtoNet(frontend(), Conv4()),
        "protonet_cpl": ProtoNet(frontend(), Conv4(), loss=with_prototypical("cpl", cpl, 1.7235)),
        "protonet_apl": ProtoNet(frontend(), Conv4(), loss=with_prototypical("apl", apl, 1.0)),
        "relationnet": RelationNet(frontend(), Conv4(), relation=RelationModule(64)),
        "view_enrichment_4_views": ProtoNet(frontend(), Conv4(), augmentation=views()),
        "view_attention_4_views": ViewAttentionProtoNet(
            frontend(), Conv4(), attention=attention, augmentation=views()
        ),
    }


def episode(device: torch.device) -> dict:
    """One episode as the episodic collate gives it, moved to ``device``."""
    items = [
        {"audio": 0.1 * torch.randn(CLIP_SAMPLES), "label": c, "index": c * 10 + i}
        for c in range(N_WAY)
        for i in range(N_SHOT + N_QUERY)
    ]
    batch = EpisodeCollate(N_WAY, N_SHOT, N_QUERY)(items)
    return {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}


def method_step(method: FewShotMethod, batch: dict) -> Step:
    """A training step of ``method``: device-side features, training_step, backward, Adam."""
    method.log = lambda *args, **kwargs: None  # no trainer to log to
    method.train()
    optimizer = method.configure_optimizers()

    def step() -> None:
        # The training branch of FewShotMethod.on_after_batch_transfer (it needs a trainer).
        features = method.augmentation(batch["audio"], method.frontend)
        training_batch = {**batch, "features": features, "n_views": method.augmentation.n_views}
        loss = method.training_step(training_batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


# ----------------------------------------------------------------------------- reference side
class MetaAudioHybrid(nn.Module):
    """MetaAudio's ``StandardHybrid`` base learner (Heggan et al., 2022), one RNN layer.

    Four blocks of conv3x3 (with bias) -> BatchNorm -> ReLU -> MaxPool(pool); the map is read
    as a sequence over time of ``channels * F'`` vectors (64 with 128 mels and 3x3 pooling),
    an RNN of 64 units with a residual connection around it, the last time step, then
    dropout 0.3 -> BatchNorm1d -> Linear to ``out_dim``.
    """

    def __init__(self, hidden: int = 64, pool: tuple[int, int] = (3, 3), out_dim: int = 64):
        super().__init__()
        blocks: list[nn.Module] = []
        for in_channels in (1, hidden, hidden, hidden):
            blocks += [
                nn.Conv2d(in_channels, hidden, 3, padding=1),
                nn.BatchNorm2d(hidden),
                nn.ReLU(),
                nn.MaxPool2d(kernel_size=pool, stride=pool),
            ]
        self.conv_encoder = nn.Sequential(*blocks)
        self.rnn = nn.RNN(hidden, hidden, num_layers=1, batch_first=True)
        self.logits = nn.Sequential(
            nn.Dropout(p=0.3), nn.BatchNorm1d(hidden), nn.Linear(hidden, out_dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv_encoder(x).transpose(1, -1)  # [B, L', F', C]
        x = x.reshape(x.shape[0], x.shape[1], -1)  # [B, L', F' * C]
        output, _ = self.rnn(x)
        x = output + x
        return self.logits(x[:, -1])


def reference_step(model: nn.Module, support: Tensor, query: Tensor, lr: float) -> Step:
    """MetaAudio's ProtoNet step: support and query embedded in two forward passes."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    targets = torch.arange(N_WAY, device=query.device).repeat_interleave(N_QUERY)

    def step() -> None:
        optimizer.zero_grad()
        support_emb = model(support)
        query_emb = model(query)
        prototypes = support_emb.reshape(N_WAY, N_SHOT, -1).mean(dim=1)
        distances = (query_emb[:, None] - prototypes[None]).pow(2).sum(dim=2)
        loss = F.nll_loss((-distances).log_softmax(dim=1), targets)
        loss.backward()
        optimizer.step()

    return step


def precomputed_features(batch: dict, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Support [W*S, 1, 128, L] and query [W*Q, 1, 128, L] log-mel features, computed before."""
    with torch.no_grad():
        features = frontend().to(batch["audio"].device)(batch["audio"]).to(dtype)
    blocks = features.reshape(N_WAY, N_SHOT + N_QUERY, *features.shape[1:])
    return blocks[:, :N_SHOT].flatten(0, 1), blocks[:, N_SHOT:].flatten(0, 1)


# ----------------------------------------------------------------------------- timing
def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def time_rounds(steps: dict[str, Step], rounds: int, warmup: int, device) -> dict[str, float]:
    """Median seconds per step of each candidate, timed in alternating rounds."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_index in range(warmup + rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if round_index >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: median(values) for name, values in times.items()}


def methods_report(batch: dict, rounds: int, warmup: int, device) -> dict:
    methods = {name: method.to(device) for name, method in build_methods().items()}
    seconds = time_rounds(
        {name: method_step(m, batch) for name, m in methods.items()}, rounds, warmup, device
    )
    base = seconds["protonet"]
    return {
        name: {
            "ms_per_step": round(s * 1e3, 1),
            "steps_per_s": round(1 / s, 3),
            "time_vs_protonet": round(s / base, 2),
        }
        for name, s in seconds.items()
    }


def comparison(ours: Step, references: dict[str, Step], rounds, warmup, device) -> dict:
    seconds = time_rounds({"ours": ours, **references}, rounds, warmup, device)
    report = {"ours_ms_per_step": round(seconds.pop("ours") * 1e3, 1)}
    for name, s in seconds.items():
        report[f"{name}_ms_per_step"] = round(s * 1e3, 1)
    for name, s in seconds.items():
        report[f"ratio_ours_vs_{name}"] = round(report["ours_ms_per_step"] / (s * 1e3), 3)
    return report


def metaaudio_report(batch: dict, rounds: int, warmup: int, device) -> dict:
    """MetaAudio's Hybrid architecture, then audiofsl's default CRNN, against two-pass steps."""
    lr = 5e-4  # MetaAudio's ProtoNet learning rate
    encoder = CRNN(pool=[3, 3], rnn_type="rnn", rnn_hidden=64, pooling="last")
    ours = ProtoNet(frontend(), encoder, optimizer=partial(torch.optim.Adam, lr=lr))
    support32, query32 = precomputed_features(batch, torch.float32)
    support64, query64 = precomputed_features(batch, torch.float64)
    model64 = MetaAudioHybrid().to(device, torch.float64)
    metaaudio = comparison(
        method_step(ours.to(device), batch),
        {
            "reference_float32": reference_step(
                MetaAudioHybrid().to(device), support32, query32, lr
            ),
            "reference_float64": reference_step(model64, support64, query64, lr),
        },
        rounds,
        warmup,
        device,
    )
    metaaudio["goal_ratio_vs_reference_float32"] = "<= 0.67"
    metaaudio["goal_met"] = metaaudio["ratio_ours_vs_reference_float32"] <= 0.67

    default_crnn = {"rnn_type": "lstm", "pooling": "last"}  # conf/encoder/crnn.yaml
    ours = ProtoNet(frontend(), CRNN(**default_crnn), optimizer=partial(torch.optim.Adam, lr=lr))
    context = comparison(
        method_step(ours.to(device), batch),
        {"reference": reference_step(CRNN(**default_crnn).to(device), support32, query32, lr)},
        rounds,
        warmup,
        device,
    )
    return {
        "metaaudio_hybrid_pool_3x3_rnn_64": metaaudio,
        "default_crnn_pool_2x2_lstm_64": context,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per candidate")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per candidate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    batch = episode(device)
    report = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "setting": (
            f"{N_WAY}-way {N_SHOT}-shot {N_QUERY}-query episodes of 5 s clips at 16 kHz, log-mel "
            "128 (n_fft 1024, hop 512, per-example normalisation); one step = features on the "
            "batch + forward + backward + Adam"
        ),
        "timing": f"median of {args.steps} steps after {args.warmup} warm-up, alternating rounds",
        "methods_conv4": methods_report(batch, args.steps, args.warmup, device),
        "metaaudio": metaaudio_report(batch, args.steps, args.warmup, device),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
