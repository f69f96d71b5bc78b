"""The ``snn`` pipeline's config: the seed's YAML sections as pydantic models (light to import).

Every field has a default, and the defaults run on scikit-learn's digits (no files, no download).
Unknown keys are errors that name the field path (``network.layers.0.conv.filtrs``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from kaspix import Config
from pydantic import Field, model_validator

__all__ = [
    "FEATURE_TYPES",
    "PLOTS",
    "ConvLayer",
    "DataConfig",
    "DenseLayer",
    "EvaluationConfig",
    "LayerConfig",
    "NetworkActivityParams",
    "NetworkActivityPlots",
    "NetworkConfig",
    "NeuronConfig",
    "PoolLayer",
    "PreparationConfig",
    "SimulationConfig",
    "SnnConfig",
    "TrainingConfig",
    "VisualizationsConfig",
    "layer_names",
]

#: The feature types of the prepare step (see :mod:`kaspix_snn.features`).
FEATURE_TYPES = ("avg_S", "firings", "first_spike", "layer_rates", "final_v")
FeatureType = Literal["avg_S", "firings", "first_spike", "layer_rates", "final_v"]

#: The static plots of the record step.
PLOTS = ("spike_raster", "firing_rate_hist_by_layer", "membrane_traces", "input_images")
PlotName = Literal["spike_raster", "firing_rate_hist_by_layer", "membrane_traces", "input_images"]


class DataConfig(Config):
    """Which images drive the network (nothing is ever downloaded)."""

    source: str = Field(
        "digits",
        description="a registered data source: digits (scikit-learn's 8x8 digits, embedded), "
        "fashion_mnist (Debian's dataset-fashion-mnist, or `path`), mnist (IDX folder or .npz given by `path`), "
        "or another plugin's as plugin:name",
    )
    path: str | None = Field(
        None,
        description="folder with (gzipped) IDX files train-/t10k-images-idx3-ubyte and -labels-idx1-ubyte, or a .npz file "
        "with x_train/y_train[/x_test/y_test] or images/labels; fashion_mnist defaults to /usr/share/datasets/fashion-mnist",
    )


class ConvLayer(Config):
    """A convolution whose output currents drive a population of LIF neurons (one per filter and position)."""

    layer_type: Literal["conv"] = Field("conv", description="conv, pool or dense")
    name: str | None = Field(None, description="layer name in the recordings (default conv1, conv2, ...)")
    filters: int = Field(
        32,
        ge=0,
        description="number of filters; 0 = a complete basis: as many filters as values in one input patch "
        "(in_channels * kernel_size**2), drawn as a random orthonormal basis, so the layer keeps all the patch's information",
    )
    kernel_size: int = Field(3, ge=1, description="side of the square filters")
    stride: int = Field(1, ge=1, description="step between filter positions")
    padding: Literal["same", "valid"] = Field(
        "same", description="same: zero padding, output size ceil(input / stride), so any kernel fits any image; valid: no padding"
    )
    weight_scale: float = Field(1.0, gt=0, description="gain of the unit-norm random filters")


class PoolLayer(Config):
    """Max pooling of the previous layer's spikes (a pooled unit spikes when any unit in its window does); no neurons of its own."""

    layer_type: Literal["pool"] = Field(description="pool")
    name: str | None = Field(None, description="layer name in the recordings (default pool1, pool2, ...)")
    kernel_size: int = Field(2, ge=1, description="side of the square pooling window")
    stride: int | None = Field(None, ge=1, description="default: kernel_size")


class DenseLayer(Config):
    """All-to-all random synapses onto a population of LIF neurons."""

    layer_type: Literal["dense"] = Field(description="dense")
    name: str | None = Field(None, description="layer name in the recordings (default dense1, dense2, ...)")
    units: int = Field(256, ge=1, description="number of LIF neurons")
    weight_scale: float = Field(1.0, gt=0, description="gain of the random weights (rows of unit norm)")


LayerConfig = Annotated[ConvLayer | PoolLayer | DenseLayer, Field(discriminator="layer_type")]


class NeuronConfig(Config):
    """Leaky integrate-and-fire parameters (norse's LIF with current-based synapses), shared by every layer."""

    tau_syn_ms: float = Field(5.0, gt=0, description="synaptic current time constant")
    tau_mem_ms: float = Field(10.0, gt=0, description="membrane time constant")
    v_th: float = Field(1.0, description="firing threshold")
    v_reset: float = Field(0.0, description="potential after a spike")
    v_leak: float = Field(0.0, description="resting potential")
    dt_ms: float = Field(1.0, gt=0, description="length of one tick")

    @model_validator(mode="after")
    def _threshold_above_reset(self) -> NeuronConfig:
        if self.v_th <= self.v_reset:
            raise ValueError(f"v_th ({self.v_th}) must be above v_reset ({self.v_reset})")
        return self


def _default_layers() -> list[ConvLayer | PoolLayer | DenseLayer]:
    return [ConvLayer(filters=32, kernel_size=3, stride=1), PoolLayer(layer_type="pool", kernel_size=2)]


def layer_names(layers: list[ConvLayer | PoolLayer | DenseLayer]) -> list[str]:
    """Each layer's name: its own, else its type and its number among layers of that type (conv1, pool1, conv2, ...)."""
    counts: dict[str, int] = {}
    names = []
    for layer in layers:
        counts[layer.layer_type] = counts.get(layer.layer_type, 0) + 1
        names.append(layer.name or f"{layer.layer_type}{counts[layer.layer_type]}")
    return names


class NetworkConfig(Config):
    """The spiking network: layers, neurons, lateral inhibition and the input encoding."""

    layers: list[LayerConfig] = Field(
        default_factory=_default_layers, min_length=1, description="conv / pool / dense layers in order, from the input on"
    )
    neuron: NeuronConfig = Field(default_factory=NeuronConfig, description="LIF parameters of every neuron layer")
    inhibitory_signals: bool = Field(
        False,
        description="lateral inhibition: a spike in a conv layer inhibits the other filters at the same position "
        "(in a dense layer, every other unit) on the next tick",
    )
    inhibition_strength: float = Field(0.5, ge=0, description="current subtracted per inhibiting spike")
    encoding: Literal["current", "poisson", "latency"] = Field(
        "current",
        description="current: pixel intensity injected as a constant current each tick (deterministic); "
        "poisson: each pixel spikes each tick with probability intensity * max_rate; "
        "latency: one spike per pixel, brighter pixels earlier (dark pixels never)",
    )
    input_gain: float = Field(2.0, gt=0, description="scale of the input (current, or spike weight for poisson/latency)")
    max_rate: float = Field(0.5, gt=0, le=1, description="poisson: spike probability per tick of a white pixel")

    @model_validator(mode="after")
    def _has_neurons(self) -> NetworkConfig:
        if all(layer.layer_type == "pool" for layer in self.layers):
            raise ValueError("the network needs at least one conv or dense layer (pool layers have no neurons)")
        names = layer_names(self.layers)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"layer names must be unique, repeated: {', '.join(duplicates)}")
        return self


class SimulationConfig(Config):
    """How the network is driven and what is recorded into ``activity_dataset.h5``."""

    ticks_per_image: int = Field(20, ge=1, description="simulation ticks each image is shown for")
    images_per_label: int | None = Field(
        None, ge=1, description="images drawn per class (seeded); null = every image; a class with fewer uses all it has"
    )
    dataset_name_base: str = Field(
        "activity", description="a label stored in the recording's metadata and plot titles (the file is always activity_dataset.h5)"
    )
    batch_size: int = Field(256, ge=1, description="images simulated and written together; memory is bounded by it")
    potentials: Literal["all", "final", "none"] = Field(
        "final", description="membrane potentials recorded per neuron layer: every tick, the last tick only, or none"
    )
    record_layers: list[str] | None = Field(None, description="layer names to record (null = every layer)")
    compression: int = Field(1, ge=0, le=9, description="gzip level of the HDF5 datasets (0 = none); deflated on a second thread")
    device: str = Field("cpu", description="torch device for the simulation: cpu, cuda, auto")


class PreparationConfig(Config):
    """Which features are computed from the recording, and the stratified train/test split."""

    feature_types: list[FeatureType] = Field(
        default_factory=lambda: ["avg_S", "firings"],
        min_length=1,
        description="avg_S: each neuron's mean spike rate over the ticks; firings: each neuron's spike rate in each of "
        "time_bins equal windows (when it fires); first_spike: 1 - first spike tick / ticks (0 when silent); "
        "layer_rates: each layer's mean rate in each time bin; final_v: each neuron's membrane potential at the last tick "
        "(needs simulation.potentials final or all)",
    )
    time_bins: int = Field(4, ge=1, description="windows per image for firings and layer_rates (must divide ticks_per_image)")
    layers: list[str] | None = Field(None, description="recorded layers the features come from (null = every recorded layer)")
    train_split: float = Field(0.8, gt=0, lt=1, description="fraction of the images in the training set (stratified by label)")


class TrainingConfig(Config):
    """The readout trained on the features (with kaspix.training.fit)."""

    model: str = Field("mlp", description="a registered model taking input_dim, n_classes and model_args")
    hidden: list[int] = Field(default_factory=lambda: [256], description="hidden layer widths of the mlp readout ([] = linear)")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout before every linear layer of the mlp")
    epochs: int = Field(20, ge=1, description="passes over the training set")
    learning_rate: float = Field(5e-4, gt=0, description="Adam's learning rate")
    weight_decay: float = Field(1e-4, ge=0, description="Adam's L2 weight decay")
    batch_size: int = Field(64, ge=1, description="training images per step")
    label_smoothing: float = Field(0.1, ge=0, lt=1, description="cross-entropy label smoothing")
    val_fraction: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="part of the training set held out (stratified) to pick the best epoch; 0 = the epoch with the lowest training loss",
    )
    patience: int | None = Field(None, ge=1, description="early stopping on the validation loss (needs val_fraction > 0)")
    device: str = Field("auto", description="auto, cpu, cuda")


class EvaluationConfig(Config):
    """How the trained readout is measured on the test split."""

    eval_samples: int | None = Field(None, ge=1, description="test images evaluated (the first N of the test split); null = all")
    think_longer: bool = Field(
        True,
        description="also re-simulate the evaluated test images for think_longer_factor x ticks_per_image ticks and classify "
        "the features of that longer look (every feature is a rate, so the readout applies unchanged); reported beside the "
        "normal result",
    )
    think_longer_factor: int = Field(2, ge=2, description="tick multiplier of think_longer (whole, so time bins still divide the ticks)")
    baseline: bool = Field(True, description="fit a logistic regression on the raw pixels of the same split, in the same run")
    baseline_max_iter: int = Field(2000, ge=1, description="lbfgs iterations of the baseline")


class NetworkActivityParams(Config):
    """What the network-activity plots show."""

    plots: list[PlotName] = Field(
        default_factory=lambda: ["spike_raster", "firing_rate_hist_by_layer"],
        description="spike_raster, firing_rate_hist_by_layer, membrane_traces, input_images",
    )
    images: int = Field(3, ge=1, description="recorded images shown in the raster and membrane plots")
    neurons_per_layer: int = Field(100, ge=1, description="neurons per layer shown in the raster (evenly spaced)")


class NetworkActivityPlots(Config):
    """Static plots of the recorded activity, written by the record step into ``plots/``."""

    enabled: bool = Field(True, description="draw the activity plots after recording")
    params: NetworkActivityParams = Field(default_factory=NetworkActivityParams, description="which plots and what they show")


class VisualizationsConfig(Config):
    """Plots (PNG)."""

    network_activity: NetworkActivityPlots = Field(
        default_factory=NetworkActivityPlots, description="plots of the recorded activity (plots/*.png)"
    )


class SnnConfig(Config):
    """A spiking-network experiment: build a network, record its activity, learn a readout, evaluate it."""

    name: str = Field("snn_digits", description="experiment name, recorded in network.json and evaluation_summary.json")
    seed: int = Field(0, description="seeds the weights, the image draw, the split, the Poisson input and the readout")
    data: DataConfig = Field(default_factory=DataConfig, description="the images")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="step 1, build_network")
    simulation: SimulationConfig = Field(default_factory=SimulationConfig, description="step 2, record_activity")
    preparation: PreparationConfig = Field(default_factory=PreparationConfig, description="step 3, prepare_data")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="step 4, train")
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig, description="step 5, evaluate")
    visualizations: VisualizationsConfig = Field(default_factory=VisualizationsConfig, description="plots")

    @model_validator(mode="after")
    def _consistent(self) -> SnnConfig:
        ticks, bins = self.simulation.ticks_per_image, self.preparation.time_bins
        uses_bins = {"firings", "layer_rates"} & set(self.preparation.feature_types)
        if uses_bins and ticks % bins:
            raise ValueError(f"preparation.time_bins ({bins}) must divide simulation.ticks_per_image ({ticks})")
        if "final_v" in self.preparation.feature_types and self.simulation.potentials == "none":
            raise ValueError("preparation.feature_types has final_v, but simulation.potentials is none; set it to final or all")
        if self.training.patience is not None and self.training.val_fraction == 0:
            raise ValueError("training.patience needs a validation set: set training.val_fraction > 0")
        plots = self.visualizations.network_activity
        if plots.enabled and "membrane_traces" in plots.params.plots and self.simulation.potentials != "all":
            raise ValueError("the membrane_traces plot needs simulation.potentials: all")
        self._check_layer_lists()
        return self

    def _check_layer_lists(self) -> None:
        names = layer_names(self.network.layers)
        recorded = self.simulation.record_layers if self.simulation.record_layers is not None else names
        for field, listed, known in (
            ("simulation.record_layers", self.simulation.record_layers, names),
            ("preparation.layers", self.preparation.layers, recorded),
        ):
            unknown = [n for n in listed or [] if n not in known]
            if unknown:
                raise ValueError(f"{field} names {unknown}, but the {'recorded ' if known is recorded else ''}layers are {known}")
            if listed is not None and not listed:
                raise ValueError(f"{field} is empty; list layers or use null for all")
