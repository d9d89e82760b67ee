"""Convolutional-recurrent encoder ("Hybrid" of MetaAudio)."""

from __future__ import annotations

from torch import Tensor, nn

from audiofsl.encoders.conv_blocks import ConvStack

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
        self.rnn = RNN_TYPES[rnn_type](
            input_size=hidden_channels * self.stack.out_features,
            hidden_size=rnn_hidden,
            num_layers=rnn_layers,
            bidirectional=bidirectional,
            batch_first=True,
        )
        self.n_directions = 2 if bidirectional else 1
        self.out_dim = rnn_hidden * self.n_directions

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
        outputs, state = self.rnn(sequence)
        if self.pooling == "mean":
            return outputs.mean(dim=1)
        hidden = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
        top = hidden.view(self.rnn.num_layers, self.n_directions, *hidden.shape[1:])[-1]
        return top.transpose(0, 1).flatten(1)  # [B, directions * rnn_hidden]
