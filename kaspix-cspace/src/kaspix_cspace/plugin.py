"""The kaspix hooks of the ``cspace`` plugin: oscillator embeddings, holographic loss, search, codec.

Only light modules are imported here (the click command modules import nothing heavy at module
level); torch, numpy, scipy, matplotlib and kaspix_esn load when a factory or command runs.
"""

from __future__ import annotations

from kaspix import RegisterCommand, RegisterPart, RegisterPipeline, hookimpl, lazy_factory

from kaspix_cspace.commands_analysis import ANALYSIS_COMMANDS
from kaspix_cspace.commands_codec import CODEC_COMMANDS
from kaspix_cspace.commands_espace import ESPACE_COMMANDS
from kaspix_cspace.pipeline import PIPELINE


@hookimpl
def register_losses(register: RegisterPart) -> None:
    losses = "kaspix_cspace.losses"
    register("cspace", lazy_factory(losses, "CSpaceLoss", "Hybrid holographic loss: oscillator-state error + small time-domain term"))
    register("mel", lazy_factory(losses, "LogMelLoss", "L1 distance of log mel spectrograms (librosa filterbank)"))
    register("mrstft", lazy_factory(losses, "MultiResolutionSTFTLoss", "Multi-resolution STFT loss (auraloss definition)"))
    register("si_snr", lazy_factory(losses, "SISNRLoss", "Negative SI-SNR in dB, offset so a perfect match is 0"))


@hookimpl
def register_data_sources(register: RegisterPart) -> None:
    sources = "kaspix_cspace.sources"
    register("synth_speech", lazy_factory(sources, "synth_speech", "Speech-like synthesized clips (codec training default)"))
    register("synth_music", lazy_factory(sources, "synth_music", "Music-like synthesized clips (out of distribution for the codec)"))
    register("wav_folder", lazy_factory(sources, "wav_folder", "Random crops of every *.wav under a folder, recursively"))
    register("libritts", lazy_factory(sources, "libritts", "A local LibriTTS copy (<root>/<subset>/<speaker>/<chapter>/<id>.wav)"))
    register(
        "hf_stream", lazy_factory(sources, "hf_stream", 'A HuggingFace audio dataset on this machine, streamed (needs "kaspix-cspace[hf]")')
    )


@hookimpl
def register_models(register: RegisterPart) -> None:
    register("cspace_codec", lazy_factory("kaspix_cspace.codec_model", "cspace_codec", "Convolutional audio autoencoder, latent <= fs/4"))


@hookimpl
def register_pipelines(register: RegisterPipeline) -> None:
    register(PIPELINE)


@hookimpl
def register_commands(register: RegisterCommand) -> None:
    for command in (*ESPACE_COMMANDS, *ANALYSIS_COMMANDS, *CODEC_COMMANDS):
        register(command)
