namespace Functional.FSharp

open Functional
open Functional.Layers

/// Layer constructors in F# style: one camelCase function per layer record, Keras's optional arguments as named
/// optional parameters (`Layers.conv2d (32, 3, padding = "same", activation = "relu")`). Strings convert to Keras's
/// options, activations, initializers, regularizers and constraints (`kernelInitializer = "zeros"`), and every member
/// delegates to the C# record's constructor, so defaults, validation and error messages are the records' own — the
/// DSL does no shape arithmetic. `open type Functional.FSharp.Layers` brings the functions into scope unqualified.
/// Every layer also takes `name` and `trainable`.
[<AbstractClass; Sealed>]
type Layers =
    /// Keras `Input(shape=...)`: the input of a Sequential model, `input (28, 28, 1)`.
    static member input([<System.ParamArray>] shape: int[]) : Layer = ScriptErrors.guard (fun () -> Input(shape))

    /// Keras `Input(shape=(None, None, 3))`: an input whose dimensions may be unknown, `inputOf [ None; None; Some 3 ]`.
    static member inputOf(shape: int option list) : Layer = ScriptErrors.guard (fun () -> Input(Shape.ofOptions shape))

    /// Keras `Dense`: `dense (64, activation = "relu")`; `loraRank = 4` (and `loraAlpha`) freezes the kernel and trains a
    /// low-rank delta instead (Keras's LoRA).
    static member dense(units: int, ?activation: ActivationFunction, ?useBias: bool,
                        ?kernelInitializer: Initializer, ?biasInitializer: Initializer,
                        ?kernelRegularizer: Regularizer, ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                        ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?loraRank: int, ?loraAlpha: float,
                        ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Dense(units, ?activation = activation, ?useBias = useBias, ?kernelInitializer = kernelInitializer,
                  ?biasInitializer = biasInitializer, ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                  ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint, ?biasConstraint = biasConstraint,
                  loraRank = Option.toNullable loraRank, loraAlpha = Option.toNullable loraAlpha,
                  Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Activation`: `activation "softmax"`.
    static member activation(activation: ActivationFunction, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () -> Activation(activation, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Dropout`: `dropout 0.5`.
    static member dropout(rate: float, ?seed: int, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () -> Dropout(rate, Option.toNullable seed, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Flatten`: `flatten ()`.
    static member flatten(?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () -> Flatten(?dataFormat = dataFormat, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv1D` over (steps, channels); supports `padding = "causal"`.
    static member conv1d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                         ?dilationRate: IntTuple, ?groups: int, ?activation: ActivationFunction, ?useBias: bool,
                         ?kernelInitializer: Initializer, ?biasInitializer: Initializer,
                         ?kernelRegularizer: Regularizer, ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                         ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?loraRank: int, ?loraAlpha: float,
                         ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv1D(filters, kernelSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?dilationRate = dilationRate,
                   ?groups = groups, ?activation = activation, ?useBias = useBias, ?kernelInitializer = kernelInitializer,
                   ?biasInitializer = biasInitializer, ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                   ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint, ?biasConstraint = biasConstraint,
                   loraRank = Option.toNullable loraRank, loraAlpha = Option.toNullable loraAlpha,
                   Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv2D`: `conv2d (32, 3, padding = "same", activation = "relu")`.
    static member conv2d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                         ?dilationRate: IntTuple, ?groups: int, ?activation: ActivationFunction, ?useBias: bool,
                         ?kernelInitializer: Initializer, ?biasInitializer: Initializer,
                         ?kernelRegularizer: Regularizer, ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                         ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?loraRank: int, ?loraAlpha: float,
                         ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv2D(filters, kernelSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?dilationRate = dilationRate,
                   ?groups = groups, ?activation = activation, ?useBias = useBias, ?kernelInitializer = kernelInitializer,
                   ?biasInitializer = biasInitializer, ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                   ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint, ?biasConstraint = biasConstraint,
                   loraRank = Option.toNullable loraRank, loraAlpha = Option.toNullable loraAlpha,
                   Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv3D` over (dim1, dim2, dim3, channels).
    static member conv3d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                         ?dilationRate: IntTuple, ?groups: int, ?activation: ActivationFunction, ?useBias: bool,
                         ?kernelInitializer: Initializer, ?biasInitializer: Initializer,
                         ?kernelRegularizer: Regularizer, ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                         ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?loraRank: int, ?loraAlpha: float,
                         ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv3D(filters, kernelSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?dilationRate = dilationRate,
                   ?groups = groups, ?activation = activation, ?useBias = useBias, ?kernelInitializer = kernelInitializer,
                   ?biasInitializer = biasInitializer, ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                   ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint, ?biasConstraint = biasConstraint,
                   loraRank = Option.toNullable loraRank, loraAlpha = Option.toNullable loraAlpha,
                   Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `MaxPooling1D`: strides default to poolSize.
    static member maxPooling1d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                               ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            MaxPooling1D(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                         Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `MaxPooling2D`: `maxPooling2d 2`; strides default to poolSize.
    static member maxPooling2d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                               ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            MaxPooling2D(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                         Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `MaxPooling3D`: strides default to poolSize.
    static member maxPooling3d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                               ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            MaxPooling3D(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                         Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `SeparableConv1D`: a depthwise then a pointwise convolution.
    static member separableConv1d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding,
                                  ?dataFormat: DataFormat, ?dilationRate: IntTuple, ?depthMultiplier: int,
                                  ?activation: ActivationFunction, ?useBias: bool, ?depthwiseInitializer: Initializer,
                                  ?pointwiseInitializer: Initializer, ?biasInitializer: Initializer,
                                  ?depthwiseRegularizer: Regularizer, ?pointwiseRegularizer: Regularizer,
                                  ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                                  ?depthwiseConstraint: Constraint, ?pointwiseConstraint: Constraint,
                                  ?biasConstraint: Constraint, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            SeparableConv1D(filters, kernelSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                               ?dilationRate = dilationRate, ?depthMultiplier = depthMultiplier, ?activation = activation,
                               ?useBias = useBias, ?depthwiseInitializer = depthwiseInitializer,
                               ?pointwiseInitializer = pointwiseInitializer, ?biasInitializer = biasInitializer,
                               ?depthwiseRegularizer = depthwiseRegularizer, ?pointwiseRegularizer = pointwiseRegularizer,
                               ?biasRegularizer = biasRegularizer, ?activityRegularizer = activityRegularizer,
                               ?depthwiseConstraint = depthwiseConstraint, ?pointwiseConstraint = pointwiseConstraint,
                               ?biasConstraint = biasConstraint, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `SeparableConv2D`: a depthwise then a pointwise convolution.
    static member separableConv2d(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding,
                                  ?dataFormat: DataFormat, ?dilationRate: IntTuple, ?depthMultiplier: int,
                                  ?activation: ActivationFunction, ?useBias: bool, ?depthwiseInitializer: Initializer,
                                  ?pointwiseInitializer: Initializer, ?biasInitializer: Initializer,
                                  ?depthwiseRegularizer: Regularizer, ?pointwiseRegularizer: Regularizer,
                                  ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                                  ?depthwiseConstraint: Constraint, ?pointwiseConstraint: Constraint,
                                  ?biasConstraint: Constraint, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            SeparableConv2D(filters, kernelSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                               ?dilationRate = dilationRate, ?depthMultiplier = depthMultiplier, ?activation = activation,
                               ?useBias = useBias, ?depthwiseInitializer = depthwiseInitializer,
                               ?pointwiseInitializer = pointwiseInitializer, ?biasInitializer = biasInitializer,
                               ?depthwiseRegularizer = depthwiseRegularizer, ?pointwiseRegularizer = pointwiseRegularizer,
                               ?biasRegularizer = biasRegularizer, ?activityRegularizer = activityRegularizer,
                               ?depthwiseConstraint = depthwiseConstraint, ?pointwiseConstraint = pointwiseConstraint,
                               ?biasConstraint = biasConstraint, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `DepthwiseConv1D`: one filter set per input channel.
    static member depthwiseConv1d(kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?depthMultiplier: int,
                                  ?dataFormat: DataFormat, ?dilationRate: IntTuple, ?activation: ActivationFunction,
                                  ?useBias: bool, ?depthwiseInitializer: Initializer, ?biasInitializer: Initializer,
                                  ?depthwiseRegularizer: Regularizer, ?biasRegularizer: Regularizer,
                                  ?activityRegularizer: Regularizer, ?depthwiseConstraint: Constraint,
                                  ?biasConstraint: Constraint, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            DepthwiseConv1D(kernelSize, ?strides = strides, ?padding = padding, ?depthMultiplier = depthMultiplier,
                               ?dataFormat = dataFormat, ?dilationRate = dilationRate, ?activation = activation,
                               ?useBias = useBias, ?depthwiseInitializer = depthwiseInitializer,
                               ?biasInitializer = biasInitializer, ?depthwiseRegularizer = depthwiseRegularizer,
                               ?biasRegularizer = biasRegularizer, ?activityRegularizer = activityRegularizer,
                               ?depthwiseConstraint = depthwiseConstraint, ?biasConstraint = biasConstraint,
                               Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `DepthwiseConv2D`: one filter set per input channel.
    static member depthwiseConv2d(kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?depthMultiplier: int,
                                  ?dataFormat: DataFormat, ?dilationRate: IntTuple, ?activation: ActivationFunction,
                                  ?useBias: bool, ?depthwiseInitializer: Initializer, ?biasInitializer: Initializer,
                                  ?depthwiseRegularizer: Regularizer, ?biasRegularizer: Regularizer,
                                  ?activityRegularizer: Regularizer, ?depthwiseConstraint: Constraint,
                                  ?biasConstraint: Constraint, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            DepthwiseConv2D(kernelSize, ?strides = strides, ?padding = padding, ?depthMultiplier = depthMultiplier,
                               ?dataFormat = dataFormat, ?dilationRate = dilationRate, ?activation = activation,
                               ?useBias = useBias, ?depthwiseInitializer = depthwiseInitializer,
                               ?biasInitializer = biasInitializer, ?depthwiseRegularizer = depthwiseRegularizer,
                               ?biasRegularizer = biasRegularizer, ?activityRegularizer = activityRegularizer,
                               ?depthwiseConstraint = depthwiseConstraint, ?biasConstraint = biasConstraint,
                               Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv1DTranspose` (transposed convolution).
    static member conv1dTranspose(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding,
                                  ?outputPadding: IntTuple, ?dataFormat: DataFormat, ?dilationRate: IntTuple,
                                  ?activation: ActivationFunction, ?useBias: bool, ?kernelInitializer: Initializer,
                                  ?biasInitializer: Initializer, ?kernelRegularizer: Regularizer,
                                  ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                                  ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?name: string,
                                  ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv1DTranspose(filters, kernelSize, ?strides = strides, ?padding = padding, ?outputPadding = outputPadding,
                               ?dataFormat = dataFormat, ?dilationRate = dilationRate, ?activation = activation,
                               ?useBias = useBias, ?kernelInitializer = kernelInitializer, ?biasInitializer = biasInitializer,
                               ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                               ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint,
                               ?biasConstraint = biasConstraint, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv2DTranspose` (transposed convolution).
    static member conv2dTranspose(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding,
                                  ?outputPadding: IntTuple, ?dataFormat: DataFormat, ?dilationRate: IntTuple,
                                  ?activation: ActivationFunction, ?useBias: bool, ?kernelInitializer: Initializer,
                                  ?biasInitializer: Initializer, ?kernelRegularizer: Regularizer,
                                  ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                                  ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?name: string,
                                  ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv2DTranspose(filters, kernelSize, ?strides = strides, ?padding = padding, ?outputPadding = outputPadding,
                               ?dataFormat = dataFormat, ?dilationRate = dilationRate, ?activation = activation,
                               ?useBias = useBias, ?kernelInitializer = kernelInitializer, ?biasInitializer = biasInitializer,
                               ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                               ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint,
                               ?biasConstraint = biasConstraint, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Conv3DTranspose` (transposed convolution).
    static member conv3dTranspose(filters: int, kernelSize: IntTuple, ?strides: IntTuple, ?padding: Padding,
                                  ?outputPadding: IntTuple, ?dataFormat: DataFormat, ?dilationRate: IntTuple,
                                  ?activation: ActivationFunction, ?useBias: bool, ?kernelInitializer: Initializer,
                                  ?biasInitializer: Initializer, ?kernelRegularizer: Regularizer,
                                  ?biasRegularizer: Regularizer, ?activityRegularizer: Regularizer,
                                  ?kernelConstraint: Constraint, ?biasConstraint: Constraint, ?name: string,
                                  ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Conv3DTranspose(filters, kernelSize, ?strides = strides, ?padding = padding, ?outputPadding = outputPadding,
                               ?dataFormat = dataFormat, ?dilationRate = dilationRate, ?activation = activation,
                               ?useBias = useBias, ?kernelInitializer = kernelInitializer, ?biasInitializer = biasInitializer,
                               ?kernelRegularizer = kernelRegularizer, ?biasRegularizer = biasRegularizer,
                               ?activityRegularizer = activityRegularizer, ?kernelConstraint = kernelConstraint,
                               ?biasConstraint = biasConstraint, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `AveragePooling1D`: strides default to poolSize.
    static member averagePooling1d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                                   ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            AveragePooling1D(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                                Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `AveragePooling2D`: strides default to poolSize.
    static member averagePooling2d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                                   ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            AveragePooling2D(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                                Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `AveragePooling3D`: strides default to poolSize.
    static member averagePooling3d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                                   ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            AveragePooling3D(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat,
                                Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `GlobalMaxPooling1D`: one value per channel.
    static member globalMaxPooling1d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalMaxPooling1D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                  Trainable = defaultArg trainable true))

    /// Keras `GlobalMaxPooling2D`: one value per channel.
    static member globalMaxPooling2d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalMaxPooling2D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                  Trainable = defaultArg trainable true))

    /// Keras `GlobalMaxPooling3D`: one value per channel.
    static member globalMaxPooling3d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalMaxPooling3D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                  Trainable = defaultArg trainable true))

    /// Keras `GlobalAveragePooling1D`: one value per channel.
    static member globalAveragePooling1d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalAveragePooling1D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                      Trainable = defaultArg trainable true))

    /// Keras `GlobalAveragePooling2D`: one value per channel.
    static member globalAveragePooling2d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalAveragePooling2D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                      Trainable = defaultArg trainable true))

    /// Keras `GlobalAveragePooling3D`: one value per channel.
    static member globalAveragePooling3d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            GlobalAveragePooling3D(?dataFormat = dataFormat, ?keepdims = keepdims, Name = Option.toObj name,
                                      Trainable = defaultArg trainable true))

    // Keras's aliases of the pooling layers (`MaxPool2D` is `MaxPooling2D`, …): the same records, under Keras's other names.

    /// Keras `MaxPool1D`, an alias of `MaxPooling1D`: `maxPool1d 2` = `maxPooling1d 2`.
    static member maxPool1d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.maxPooling1d(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                              ?trainable = trainable)

    /// Keras `MaxPool2D`, an alias of `MaxPooling2D`: `maxPool2d 2` = `maxPooling2d 2`.
    static member maxPool2d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.maxPooling2d(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                              ?trainable = trainable)

    /// Keras `MaxPool3D`, an alias of `MaxPooling3D`: `maxPool3d 2` = `maxPooling3d 2`.
    static member maxPool3d(?poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.maxPooling3d(?poolSize = poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                              ?trainable = trainable)

    /// Keras `AvgPool1D`, an alias of `AveragePooling1D`.
    static member avgPool1d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.averagePooling1d(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                                  ?trainable = trainable)

    /// Keras `AvgPool2D`, an alias of `AveragePooling2D`.
    static member avgPool2d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.averagePooling2d(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                                  ?trainable = trainable)

    /// Keras `AvgPool3D`, an alias of `AveragePooling3D`.
    static member avgPool3d(poolSize: IntTuple, ?strides: IntTuple, ?padding: Padding, ?dataFormat: DataFormat,
                            ?name: string, ?trainable: bool) : Layer =
        Layers.averagePooling3d(poolSize, ?strides = strides, ?padding = padding, ?dataFormat = dataFormat, ?name = name,
                                  ?trainable = trainable)

    /// Keras `GlobalMaxPool1D`, an alias of `GlobalMaxPooling1D`.
    static member globalMaxPool1d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalMaxPooling1d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `GlobalMaxPool2D`, an alias of `GlobalMaxPooling2D`.
    static member globalMaxPool2d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalMaxPooling2d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `GlobalMaxPool3D`, an alias of `GlobalMaxPooling3D`.
    static member globalMaxPool3d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalMaxPooling3d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `GlobalAvgPool1D`, an alias of `GlobalAveragePooling1D`.
    static member globalAvgPool1d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalAveragePooling1d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `GlobalAvgPool2D`, an alias of `GlobalAveragePooling2D`.
    static member globalAvgPool2d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalAveragePooling2d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `GlobalAvgPool3D`, an alias of `GlobalAveragePooling3D`.
    static member globalAvgPool3d(?dataFormat: DataFormat, ?keepdims: bool, ?name: string, ?trainable: bool) : Layer =
        Layers.globalAveragePooling3d(?dataFormat = dataFormat, ?keepdims = keepdims, ?name = name, ?trainable = trainable)

    /// Keras `Cropping1D`: `cropping1d (1, 2)` crops 1 step before and 2 after.
    static member cropping1d(?cropping: IntTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Cropping1D(?cropping = cropping, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Cropping2D`: an int, one per axis, or (before, after) pairs per axis.
    static member cropping2d(?cropping: SidePairs, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Cropping2D(?cropping = cropping, ?dataFormat = dataFormat, Name = Option.toObj name,
                          Trainable = defaultArg trainable true))

    /// Keras `Cropping3D`: an int, one per axis, or (before, after) pairs per axis.
    static member cropping3d(?cropping: SidePairs, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Cropping3D(?cropping = cropping, ?dataFormat = dataFormat, Name = Option.toObj name,
                          Trainable = defaultArg trainable true))

    /// Keras `ZeroPadding1D`.
    static member zeroPadding1d(?padding: IntTuple, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ZeroPadding1D(?padding = padding, ?dataFormat = dataFormat, Name = Option.toObj name,
                             Trainable = defaultArg trainable true))

    /// Keras `ZeroPadding2D`: an int, one per axis, or (before, after) pairs per axis.
    static member zeroPadding2d(?padding: SidePairs, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ZeroPadding2D(?padding = padding, ?dataFormat = dataFormat, Name = Option.toObj name,
                             Trainable = defaultArg trainable true))

    /// Keras `ZeroPadding3D`: an int, one per axis, or (before, after) pairs per axis.
    static member zeroPadding3d(?padding: SidePairs, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ZeroPadding3D(?padding = padding, ?dataFormat = dataFormat, Name = Option.toObj name,
                             Trainable = defaultArg trainable true))

    /// Keras `UpSampling1D`: repeats each step `size` times.
    static member upSampling1d(?size: int, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            UpSampling1D(?size = size, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `UpSampling2D`: `nearest` (default) or `bilinear`.
    static member upSampling2d(?size: IntTuple, ?dataFormat: DataFormat, ?interpolation: string, ?name: string,
                               ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            UpSampling2D(?size = size, ?dataFormat = dataFormat, ?interpolation = interpolation, Name = Option.toObj name,
                            Trainable = defaultArg trainable true))

    /// Keras `UpSampling3D`.
    static member upSampling3d(?size: IntTuple, ?dataFormat: DataFormat, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            UpSampling3D(?size = size, ?dataFormat = dataFormat, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Reshape`: `reshape (1, 1, 64)`; one entry may be -1.
    static member reshape(targetShape: IntTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Reshape(targetShape, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Permute`: `permute (2, 1)` swaps the two per-sample axes (1-based).
    static member permute(dims: IntTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Permute(dims, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `RepeatVector`: (features) → (n, features).
    static member repeatVector(n: int, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            RepeatVector(n, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `ActivityRegularization`: identity that adds l1·Σ|x| + l2·Σx² to the loss.
    static member activityRegularization(?l1: float, ?l2: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ActivityRegularization(?l1 = l1, ?l2 = l2, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Masking`.
    static member masking(?maskValue: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Masking(?maskValue = maskValue, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Add` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member add(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Add(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Subtract` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member subtract(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Subtract(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Multiply` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member multiply(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Multiply(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Average` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member average(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Average(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Maximum` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member maximum(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Maximum(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Minimum` merge layer: apply it to a list of tensors with `Graph.merge`.
    static member minimum(?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Minimum(Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Concatenate` along `axis` (default -1, the channels): apply it with `Graph.merge`.
    static member concatenate(?axis: int, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Concatenate(?axis = axis, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Dot`: the dot product of two tensors along `axes`.
    static member dot(axes: IntTuple, ?normalize: bool, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Dot(axes, ?normalize = normalize, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `BatchNormalization` over `axis` (default -1, the channels); moving statistics are non-trainable.
    /// `renorm = true` adds batch renormalization (`renormClipping = RenormClipping(RMax = 3.0, RMin = 1.0 / 3.0, DMax = 5.0)`,
    /// `renormMomentum`); `synchronized` is accepted and, on one device, changes nothing.
    static member batchNormalization(?axis: int, ?momentum: float, ?epsilon: float, ?center: bool, ?scale: bool,
                                     ?betaInitializer: Initializer, ?gammaInitializer: Initializer,
                                     ?movingMeanInitializer: Initializer, ?movingVarianceInitializer: Initializer,
                                     ?betaRegularizer: Regularizer, ?gammaRegularizer: Regularizer,
                                     ?betaConstraint: Constraint, ?gammaConstraint: Constraint, ?renorm: bool,
                                     ?renormClipping: RenormClipping, ?renormMomentum: float, ?synchronized: bool,
                                     ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            BatchNormalization(?axis = axis, ?momentum = momentum, ?epsilon = epsilon, ?center = center, ?scale = scale,
                               ?betaInitializer = betaInitializer, ?gammaInitializer = gammaInitializer,
                               ?movingMeanInitializer = movingMeanInitializer,
                               ?movingVarianceInitializer = movingVarianceInitializer, ?betaRegularizer = betaRegularizer,
                               ?gammaRegularizer = gammaRegularizer, ?betaConstraint = betaConstraint,
                               ?gammaConstraint = gammaConstraint, ?renorm = renorm, ?renormClipping = renormClipping,
                               ?renormMomentum = renormMomentum, ?synchronized = synchronized, Name = Option.toObj name,
                               Trainable = defaultArg trainable true))

    /// Keras `LayerNormalization` over `axis` (default -1).
    static member layerNormalization(?axis: IntTuple, ?epsilon: float, ?center: bool, ?scale: bool, ?rmsScaling: bool,
                                     ?betaInitializer: Initializer, ?gammaInitializer: Initializer,
                                     ?betaRegularizer: Regularizer, ?gammaRegularizer: Regularizer,
                                     ?betaConstraint: Constraint, ?gammaConstraint: Constraint, ?name: string,
                                     ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            LayerNormalization(?axis = axis, ?epsilon = epsilon, ?center = center, ?scale = scale, ?rmsScaling = rmsScaling,
                               ?betaInitializer = betaInitializer, ?gammaInitializer = gammaInitializer,
                               ?betaRegularizer = betaRegularizer, ?gammaRegularizer = gammaRegularizer,
                               ?betaConstraint = betaConstraint, ?gammaConstraint = gammaConstraint, Name = Option.toObj name,
                               Trainable = defaultArg trainable true))

    /// Keras `ReLU` layer: `relu ()`, or `relu (maxValue = 6.0)`.
    static member relu(?maxValue: float, ?negativeSlope: float, ?threshold: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ReLU(Option.toNullable maxValue, ?negativeSlope = negativeSlope, ?threshold = threshold, Name = Option.toObj name,
                 Trainable = defaultArg trainable true))

    /// Keras `LeakyReLU` (negative slope 0.3 by default).
    static member leakyRelu(?negativeSlope: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            LeakyReLU(?negativeSlope = negativeSlope, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `PReLU`: a learned slope per element (shared along `sharedAxes`).
    static member prelu(?alphaInitializer: Initializer, ?alphaRegularizer: Regularizer, ?alphaConstraint: Constraint,
                        ?sharedAxes: IntTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            PReLU(?alphaInitializer = alphaInitializer, ?alphaRegularizer = alphaRegularizer,
                  ?alphaConstraint = alphaConstraint, ?sharedAxes = sharedAxes, Name = Option.toObj name,
                  Trainable = defaultArg trainable true))

    /// Keras `ELU` layer.
    static member elu(?alpha: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ELU(?alpha = alpha, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `ThresholdedReLU`: x where x > theta, else 0.
    static member thresholdedRelu(?theta: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            ThresholdedReLU(?theta = theta, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Softmax` layer over `axis` (default -1).
    static member softmax(?axis: IntTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Softmax(?axis = axis, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Rescaling`: `x · scale + offset`, e.g. `rescaling (FloatTuple(1.0 / 255.0))`.
    static member rescaling(scale: FloatTuple, ?offset: FloatTuple, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Rescaling(scale, ?offset = offset, Name = Option.toObj name, Trainable = defaultArg trainable true))

    /// Keras `Normalization`: `(x − mean) / √variance` per index of `axis` (statistics as weights unless given).
    static member normalization(?axis: IntTuple, ?mean: FloatTuple, ?variance: FloatTuple, ?invert: bool, ?name: string,
                                ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            Normalization(?axis = axis, ?mean = mean, ?variance = variance, ?invert = invert, Name = Option.toObj name,
                          Trainable = defaultArg trainable true))

    /// Inception-ResNet-v2's `CustomScaleLayer`: `inputs[0] + inputs[1] · scale`; apply it to two tensors with `Graph.merge`.
    static member customScaleLayer(scale: float, ?name: string, ?trainable: bool) : Layer =
        ScriptErrors.guard (fun () ->
            CustomScaleLayer(scale, Name = Option.toObj name, Trainable = defaultArg trainable true))
