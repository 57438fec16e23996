namespace Functional.FSharp

open Functional
open Functional.Layers

/// Layer constructors in F# style: camelCase, Keras's optional arguments as named optional parameters.
/// Each delegates to the C# record's constructor; no shape arithmetic happens here.
[<AbstractClass; Sealed>]
type Layers =
    /// Keras `Input(shape=...)`.
    static member input([<System.ParamArray>] shape: int[]) : Layer = Input(shape)

    /// Keras `Conv2D`: `conv2d (32, 3, padding = "same", activation = "relu")`.
    static member conv2d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: string, ?dataFormat: string,
                         ?dilationRate: IntTuple, ?groups: int, ?activation: string, ?useBias: bool, ?name: string) : Layer =
        Conv2D(filters, kernelSize,
               defaultArg strides (IntTuple()),
               (padding |> Option.map Padding.Parse |> Option.defaultValue Padding.Valid),
               (dataFormat |> Option.map DataFormat.Parse |> Option.defaultValue DataFormat.ChannelsLast),
               defaultArg dilationRate (IntTuple()),
               defaultArg groups 1,
               (activation |> Option.map ActivationFunction |> Option.toObj),
               defaultArg useBias true,
               Name = Option.toObj name)

    /// Keras `MaxPooling2D`: strides default to poolSize.
    static member maxPooling2d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: string, ?dataFormat: string, ?name: string) : Layer =
        MaxPooling2D(defaultArg poolSize (IntTuple()), defaultArg strides (IntTuple()),
                     (padding |> Option.map Padding.Parse |> Option.defaultValue Padding.Valid),
                     (dataFormat |> Option.map DataFormat.Parse |> Option.defaultValue DataFormat.ChannelsLast),
                     Name = Option.toObj name)

    /// Keras `Flatten`.
    static member flatten(?dataFormat: string, ?name: string) : Layer =
        Flatten((dataFormat |> Option.map DataFormat.Parse |> Option.defaultValue DataFormat.ChannelsLast), Name = Option.toObj name)

    /// Keras `Dense`.
    static member dense(units: int, ?activation: string, ?useBias: bool, ?name: string) : Layer =
        Dense(units, (activation |> Option.map ActivationFunction |> Option.toObj), defaultArg useBias true, Name = Option.toObj name)

    /// Keras `Activation`.
    static member activation(activation: string, ?name: string) : Layer =
        Activation(ActivationFunction activation, Name = Option.toObj name)

    /// Keras `Dropout`.
    static member dropout(rate: float, ?seed: int, ?name: string) : Layer =
        Dropout(rate, Option.toNullable seed, Name = Option.toObj name)
