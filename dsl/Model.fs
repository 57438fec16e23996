namespace Functional.FSharp

open Functional
open Functional.Layers
open Functional.Models
open Functional.Torch

/// Sequential models as pipelines: `Model.input [28; 28; 1] |> Model.add (Layers.conv2d (32, 3)) |> ...`.
[<RequireQualifiedAccess>]
module Model =
    /// A model that so far holds only its input (per-sample shape, batch excluded).
    let input (shape: int list) : Sequential = Sequential(Input(Array.ofList shape))

    /// Appends a layer; the new model is validated (shapes inferred) at once.
    let add (layer: Layer) (model: Sequential) : Sequential = model.Add layer

    /// A model from a list that starts with `Layers.input`.
    let sequential (layers: Layer list) : Sequential = Sequential(Array.ofList layers)

    /// Keras's `model.summary()` text; needs no libtorch.
    let summary (model: Sequential) : string = model.Summary()

    /// Total parameter count.
    let countParams (model: Sequential) : int64 = model.ParameterCount

    /// Builds the model into TorchSharp modules on the CPU.
    let build (model: Sequential) : BuiltModel = BuiltModel.Build(model)

    /// Builds the model on a device.
    let buildOn (device: Device) (model: Sequential) : BuiltModel = BuiltModel.Build(model, device)
