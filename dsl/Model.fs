namespace Functional.FSharp

open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building

/// Sequential models as pipelines: `Model.input [28; 28; 1] |> Model.add (Layers.conv2d (32, 3)) |> ...`, and what
/// every model offers (summary, parameter count, JSON config, building).
[<RequireQualifiedAccess>]
module Model =
    /// A model that so far holds only its input (per-sample shape, batch excluded).
    let input (shape: int list) : Sequential = ScriptErrors.guard (fun () -> Sequential(Input(Array.ofList shape)))

    /// A model whose input dimensions may be unknown: `Model.inputOf [ None; Some 8 ]` takes sequences of any length.
    let inputOf (shape: int option list) : Sequential = ScriptErrors.guard (fun () -> Sequential(Input(Shape.ofOptions shape)))

    /// Appends a layer; the new model is validated (shapes inferred) at once.
    let add (layer: Layer) (model: Sequential) : Sequential = ScriptErrors.guard (fun () -> model.Add layer)

    /// A model from a list that starts with `Layers.input`.
    let sequential (layers: Layer list) : Sequential = ScriptErrors.guard (fun () -> Sequential(Array.ofList layers))

    /// The same layers under another model name.
    let named (name: string) (model: Sequential) : Sequential = ScriptErrors.guard (fun () -> model.WithName name)

    /// Keras's `model.summary()` text for any model; needs no libtorch.
    let summary (model: IModel) : string = model.Summary()

    /// Total parameter count.
    let countParams (model: IModel) : int64 = model.ParameterCount

    /// The model as a Keras-like JSON config document.
    let toJson (model: IModel) : string = model.ToJson()

    /// A model from its JSON config (a `Sequential` or a graph `Model`); errors name the JSON path.
    let fromJson (json: string) : IModel = ScriptErrors.guard (fun () -> ModelConfig.FromJson json)

    /// Builds a Sequential model into TorchSharp modules on the CPU.
    let build (model: Sequential) : BuiltNetwork = BuiltNetwork.Build(model)

    /// Builds a Sequential model on a device.
    let buildOn (device: Device) (model: Sequential) : BuiltNetwork = BuiltNetwork.Build(model, device)

    /// Builds any model (sequential or graph) on the CPU.
    let buildNetwork (model: IModel) : BuiltNetwork = BuiltNetwork.Build(model)
