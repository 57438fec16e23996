namespace Functional.FSharp

open Functional.Layers
open Functional.Models

/// The `sequential { … }` computation expression: each line is a layer, the first an input.
///
///     sequential {
///         input (28, 28, 1)
///         conv2d (32, 3, padding = "same", activation = "relu")
///         maxPooling2d 2
///         flatten ()
///         dense (10, activation = "softmax")
///     }
///
/// `for` loops and `yield!` of layer lists work; the result is the same `Sequential` as `Model.sequential`.
type SequentialBuilder() =
    member _.Yield(layer: Layer) : Layer list = [ layer ]
    member _.YieldFrom(layers: Layer seq) : Layer list = List.ofSeq layers
    member _.Zero() : Layer list = []
    member _.Combine(first: Layer list, rest: Layer list) : Layer list = first @ rest
    member _.Delay(body: unit -> Layer list) : Layer list = body ()
    member _.For(items: 'a seq, body: 'a -> Layer list) : Layer list = items |> Seq.collect body |> List.ofSeq
    member _.Run(layers: Layer list) : Sequential = Model.sequential layers

[<AutoOpen>]
module SequentialExpression =
    /// Builds a Sequential model from its layers, one per line.
    let sequential = SequentialBuilder()
