"""Convolutional-recurrent encoder ("Hybrid" of MetaAudio)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from audiofsl.encoders.conv_blocks import ConvStack, OutputBlockSettings, build_output_block

RNN_TYPES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
CRNN_POOLING = ("mean", "last")


class CRNN(nn.Module):
    """Conv blocks followed by a recurrent layer over time (MetaAudio "Hybrid",
    Heggan et al., 2022; in the spirit of the CRNN of Choi et al., 2017).

    The conv feature map ``[B, C, F', L']`` is read as a sequence of ``L'`` vectors of size
    ``C * F'`` and fed to an RNN/GRU/LSTM. The outputs are pooled to one vector: ``"mean"``
    over time, or ``"last"`` (final hidden state of the top layer; for a bidirectional RNN
    the forward state after the last frame and the backward state after the first).
    ``out_dim = rnn_hidden * (2 if bidirectional else 1)``.

    Two optional parts, off by default, give MetaAudio's Hybrid in full (``rnn_type="rnn"``,
    ``pool=3``, ``pooling="last"``, ``residual=True``,
    ``output_block={"out_dim": 64, "dropout": 0.3}``):

    - ``residual``: a skip connection around the recurrent layers, which adds each step's input
      vector to that step's output (to each direction's output when bidirectional) before the
      pooling; it needs ``rnn_hidden == hidden_channels * F'``.
    - ``output_block``: Dropout -> BatchNorm1d -> Linear on the pooled vector;
      ``out_dim = output_block.out_dim`` then.

    Args:
        in_channels: Channels of the input features.
        n_features: Frequency bins of the input.
        hidden_channels: Channels of the conv blocks.
        n_blocks: Number of conv blocks.
        rnn_type: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        rnn_hidden: Hidden size of the recurrent layer.
        rnn_layers: Number of stacked recurrent layers.
        bidirectional: Whether the recurrent layers read both directions.
        pooling: ``"mean"`` or ``"last"``.
        pool: max-pool size of each block over (frequency, time), e.g. ``[3, 3]`` as MetaAudio.
        residual: Add the recurrent layers' input sequence to their output sequence.
        output_block: None (default: the pooled vector is the output), or
            :class:`~audiofsl.encoders.conv_blocks.OutputBlockSettings` or a mapping of them,
            e.g. ``{"out_dim": 64, "dropout": 0.3}`` as MetaAudio.
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_features: int = 128,
        hidden_channels: int = 64,
        n_blocks: int = 4,
        rnn_type: str = "gru",
        rnn_hidden: int = 64,
        rnn_layers: int = 1,
        bidirectional: bool = False,
        pooling: str = "mean",
        pool: int | tuple[int, int] | list[int] = 2,
        residual: bool = False,
        output_block: OutputBlockSettings | Mapping | None = None,
    ) -> None:
        super().__init__()
        if rnn_type not in RNN_TYPES:
            raise ValueError(
                f"CRNN rnn_type={rnn_type!r} is not supported; choose one of {tuple(RNN_TYPES)}."
            )
        if pooling not in CRNN_POOLING:
            raise ValueError(
                f"CRNN pooling={pooling!r} is not supported; choose one of {CRNN_POOLING}."
            )
        if rnn_hidden < 1 or rnn_layers < 1:
            raise ValueError(
                f"CRNN rnn_hidden and rnn_layers must be >= 1, got {rnn_hidden}, {rnn_layers}."
            )
        self.pooling = pooling
        self.stack = ConvStack(in_channels, n_features, hidden_channels, n_blocks, pool)
        #: Channels of :meth:`forward_features` (e.g. a relation module's input).
        self.feature_channels = hidden_channels
        input_size = hidden_channels * self.stack.out_features
        if residual and rnn_hidden != input_size:
            raise ValueError(
                f"CRNN residual=True adds the recurrent layer's input to its output, so "
                f"rnn_hidden must equal its input size hidden_channels x F' = "
                f"{hidden_channels} x {self.stack.out_features} = {input_size} (F': frequency "
                f"bins left after the conv blocks), got rnn_hidden={rnn_hidden}. Set "
                f"rnn_hidden={input_size}, or residual=false."
            )
        self.residual = residual
        self.rnn = RNN_TYPES[rnn_type](
            input_size=input_size,
            hidden_size=rnn_hidden,
            num_layers=rnn_layers,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.n_directions = 2 if bidirectional else 1
        pooled_dim = rnn_hidden * self.n_directions
        self.output_block = build_output_block(pooled_dim, output_block)
        self.out_dim = self.output_block.out_dim if self.output_block else pooled_dim

    def forward_features(self, x: Tensor) -> Tensor:
        """Convolutional feature map (before the recurrent layer).

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= pool[1] ** n_blocks``.

        Returns:
            ``[B, hidden_channels, F', L']``, each axis divided ``n_blocks`` times by its pool.
        """
        return self.stack(x)

    def forward(self, x: Tensor) -> Tensor:
        """Embeds features.

        Args:
            x: ``[B, in_channels, n_features, L]`` features, ``L >= pool[1] ** n_blocks``.

        Returns:
            ``[B, out_dim]`` embeddings.
        """
        feature_map = self.forward_features(x)
        sequence = feature_map.permute(0, 3, 1, 2).flatten(2)  # [B, L', C * F']
        outputs, _ = self.rnn(sequence)  # [B, L', directions * rnn_hidden]
        if self.residual:
            outputs = outputs + sequence.repeat(1, 1, self.n_directions)
        embedding = self.pool_steps(outputs)
        return embedding if self.output_block is None else self.output_block(embedding)

    def pool_steps(self, outputs: Tensor) -> Tensor:
        """Pools the top recurrent layer's outputs over time.

        Args:
            outputs: ``[B, L', directions * rnn_hidden]`` outputs of every step.

        Returns:
            ``[B, directions * rnn_hidden]``: their mean (``"mean"``), or (``"last"``) the
            forward output after the last step and the backward output after the first.
        """
        if self.pooling == "mean":
            return outputs.mean(dim=1)
        hidden = self.rnn.hidden_size
        last = outputs[:, -1, :hidden]
        if self.n_directions == 1:
            return last
        return torch.cat([last, outputs[:, 0, hidden:]], dim=1)
