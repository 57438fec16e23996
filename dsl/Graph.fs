namespace Functional.FSharp

open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building

/// Functional graphs (Keras's functional API) with plain functions over symbolic tensors:
///
///     let inputs = Graph.input [ 32; 32; 64 ]
///     let y = inputs --> conv2d (64, 3, padding = "same", activation = "relu") --> conv2d (64, 3, padding = "same")
///     let model = Graph.model [ inputs ] [ Graph.merge (add ()) [ y; inputs ] ]
///
/// Shapes are inferred as each layer is applied; a layer that cannot take its input fails on that line. A layer is
/// identified by its instance: `let shared = dense 64` applied twice is one layer with one set of weights (Keras's
/// shared layers); two calls of `dense 64` are two layers.
[<RequireQualifiedAccess>]
module Graph =
    /// A model input of the given per-sample shape (Keras `keras.Input(shape=…)`).
    let input (shape: int list) : SymbolicTensor = ScriptErrors.guard (fun () -> Functional.Models.Graph.Input(Array.ofList shape))

    /// A model input whose dimensions may be unknown: `Graph.inputOf [ None; None; Some 3 ]` is Keras's
    /// `keras.Input(shape=(None, None, 3))`, an image of any size.
    let inputOf (shape: int option list) : SymbolicTensor =
        ScriptErrors.guard (fun () -> Functional.Models.Graph.Input(Shape.ofOptions shape))

    /// A named model input.
    let namedInput (name: string) (shape: int list) : SymbolicTensor =
        ScriptErrors.guard (fun () -> Functional.Models.Graph.Input(Shape(shape), name))

    /// Applies a layer to a tensor (Keras `layer(x)`).
    let apply (layer: Layer) (x: SymbolicTensor) : SymbolicTensor = ScriptErrors.guard (fun () -> layer.Call x)

    /// Applies a layer that takes several tensors — a merge layer such as `add ()` or `concatenate ()`.
    let merge (layer: Layer) (xs: SymbolicTensor list) : SymbolicTensor = ScriptErrors.guard (fun () -> layer.Call(Array.ofList xs))

    /// Applies a whole model as a layer (its weights are shared with every other use of the same model value).
    let call (model: IModel) (xs: SymbolicTensor list) : SymbolicTensor list =
        ScriptErrors.guard (fun () -> model.CallMany(Array.ofList xs) |> List.ofSeq)

    /// The model from its inputs to its outputs, named `functional`.
    let model (inputs: SymbolicTensor list) (outputs: SymbolicTensor list) : Model = ScriptErrors.guard (fun () -> Model(inputs, outputs))

    /// The model from its inputs to its outputs, under a name.
    let named (name: string) (inputs: SymbolicTensor list) (outputs: SymbolicTensor list) : Model =
        ScriptErrors.guard (fun () -> Model(inputs, outputs, name))

    /// Builds the graph into TorchSharp modules on the CPU.
    let build (model: Model) : BuiltNetwork = BuiltNetwork.Build(model)

/// Layer calls with Keras's call arguments.
type GraphCalls =
    /// Keras's `mha(query, value, key=…, attention_mask=…, return_attention_scores=…, use_causal_mask=…)` on a
    /// `multiHeadAttention` layer: the outputs (the attention output, then the scores with `returnAttentionScores`).
    /// Calls with the same arguments share one layer; see `LayerCalls.CallWith`.
    static member multiHeadAttention(layer: Layer, query: SymbolicTensor, value: SymbolicTensor, ?key: SymbolicTensor,
                                     ?attentionMask: SymbolicTensor, ?returnAttentionScores: bool, ?useCausalMask: bool) : SymbolicTensor list =
        ScriptErrors.guard (fun () ->
            match layer with
            | :? MultiHeadAttention as mha ->
                mha.CallWith(query, value, Option.toObj key, Option.toObj attentionMask, defaultArg returnAttentionScores false,
                             defaultArg useCausalMask false) |> List.ofSeq
            | other -> invalidArg "layer" (sprintf "GraphCalls.multiHeadAttention takes a MultiHeadAttention layer; received %s." (other.Describe())))

/// The one graph operator.
[<AutoOpen>]
module GraphOperators =
    /// Applies a layer to a tensor: `x --> dense 64` is `Graph.apply (dense 64) x`.
    let inline (-->) (x: SymbolicTensor) (layer: Layer) : SymbolicTensor = Graph.apply layer x
