/// Keras's numbers on every CPU: every layer with weights computes in float32 what the same layer computes in float64
/// (forward, input gradient, weight gradients), at batch > 1, for contiguous and permuted inputs, in both data formats;
/// the CPU-kernel guard's own check; and seeded initializer draws landing in Keras's layout for every such layer.
module Functional.Tests.KernelNumericsTests

open System
open System.Reflection
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch.Native
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support
open Functional.Tests.InitializerTests

/// Every layer with weights, each with a per-sample input shape; conv-like layers and BatchNormalization in both data
/// formats, with strides, dilations, groups, odd `same` totals and the small channel counts that broke libtorch's
/// oneDNN kernels on some CPUs.
let layersWithWeights : (Layer * Shape) list =
    [ Dense(5, activation = "tanh"), Shape(3, 4)
      Conv1D(4, 3, strides = IntTuple(2), padding = "same"), Shape(9, 3)
      Conv1D(4, 3, strides = IntTuple(2), padding = "same", dataFormat = "channels_first"), Shape(3, 9)
      Conv1D(2, 2, padding = "causal", dilationRate = IntTuple(2)), Shape(8, 1)
      Conv2D(4, (3, 2), padding = "same", dilationRate = (2, 1)), Shape(7, 6, 3)
      Conv2D(4, (3, 2), padding = "same", dilationRate = (2, 1), dataFormat = "channels_first"), Shape(3, 7, 6)
      Conv2D(2, 3), Shape(8, 8, 1)
      Conv2D(2, 3, dataFormat = "channels_first"), Shape(1, 8, 8)
      Conv2D(3, 3, padding = "same", activation = "softmax"), Shape(6, 6, 3)
      Conv2D(3, 3, padding = "same", activation = "softmax", dataFormat = "channels_first"), Shape(3, 6, 6)
      Conv2D(6, 3, strides = 2, groups = 3), Shape(7, 7, 3)
      Conv2D(6, 3, strides = 2, groups = 3, dataFormat = "channels_first"), Shape(3, 7, 7)
      Conv3D(3, 2, strides = (1, 2, 1)), Shape(5, 6, 4, 2)
      Conv3D(3, 2, strides = (1, 2, 1), dataFormat = "channels_first"), Shape(2, 5, 6, 4)
      Conv1DTranspose(3, 3, strides = 2), Shape(6, 2)
      Conv1DTranspose(3, 3, strides = 2, dataFormat = "channels_first"), Shape(2, 6)
      Conv2DTranspose(4, 3, strides = 2, padding = "same", outputPadding = 1), Shape(5, 4, 3)
      Conv2DTranspose(4, 3, strides = 2, padding = "same", outputPadding = 1, dataFormat = "channels_first"), Shape(3, 5, 4)
      Conv2DTranspose(2, (2, 3), dilationRate = 2), Shape(5, 5, 1)
      Conv3DTranspose(2, 2, strides = 2), Shape(3, 4, 3, 2)
      Conv3DTranspose(2, 2, strides = 2, dataFormat = "channels_first"), Shape(2, 3, 4, 3)
      DepthwiseConv1D(3, depthMultiplier = 2), Shape(9, 3)
      DepthwiseConv1D(3, depthMultiplier = 2, dataFormat = "channels_first"), Shape(3, 9)
      DepthwiseConv2D((3, 2), padding = "same", depthMultiplier = 3, dilationRate = (2, 1)), Shape(7, 6, 3)
      DepthwiseConv2D((3, 2), padding = "same", depthMultiplier = 3, dilationRate = (2, 1), dataFormat = "channels_first"), Shape(3, 7, 6)
      SeparableConv1D(4, 3, depthMultiplier = 2), Shape(9, 3)
      SeparableConv1D(4, 3, depthMultiplier = 2, dataFormat = "channels_first"), Shape(3, 9)
      SeparableConv2D(5, 3, strides = 2, padding = "same", depthMultiplier = 2), Shape(7, 6, 3)
      SeparableConv2D(5, 3, strides = 2, padding = "same", depthMultiplier = 2, dataFormat = "channels_first"), Shape(3, 7, 6)
      Dense(5, loraRank = 2), Shape(6)
      Conv2D(4, 3, padding = "same", loraRank = 2), Shape(6, 5, 3)
      Conv2D(4, 3, padding = "same", loraRank = 2, dataFormat = "channels_first"), Shape(3, 6, 5)
      BatchNormalization(), Shape(5, 4, 3)
      BatchNormalization(renorm = true), Shape(5, 4, 3)
      BatchNormalization(axis = 1), Shape(3, 5, 4)
      LayerNormalization(), Shape(5, 4, 3)
      PReLU(alphaInitializer = RandomUniform(-0.5, 0.5)), Shape(5, 3)
      Normalization(), Shape(4, 3)
      EinsumDense("abc,cde->abde", Shape([| Nullable(); Nullable 3; Nullable 2 |]), activation = "tanh", biasAxes = "de"), Shape(4, 5)
      GroupNormalization(2), Shape(5, 4)
      Embedding(7, 3), Shape(5)
      Embedding(7, 3, loraRank = 2), Shape(2, 3)
      SimpleRNN(3, biasInitializer = RandomUniform(-0.5, 0.5)), Shape(5, 4)
      LSTM(3, returnSequences = true), Shape(5, 4)
      LSTM(3, goBackwards = true, recurrentActivation = "hard_sigmoid"), Shape(5, 4)
      GRU(3, biasInitializer = RandomUniform(-0.5, 0.5)), Shape(5, 4)
      GRU(3, resetAfter = false, returnSequences = true), Shape(5, 4)
      Bidirectional(LSTM(3, returnSequences = true)), Shape(5, 4)
      TimeDistributed(Dense(3, activation = "tanh")), Shape(4, 5)
      TimeDistributed(Conv2D(2, 2, padding = "same")), Shape(3, 5, 4, 2)
      RNN(StackedRNNCells(LSTMCell(3), GRUCell(2, resetAfter = false)), returnSequences = true), Shape(5, 4)
      RNN(SimpleRNNCell(3, activation = "relu"), goBackwards = true), Shape(5, 4) ]

/// The same values with the memory order of the channel axis (1) and the last axis swapped: what `x.permute(...)` of
/// data in the other layout gives a user (channels_last strides for NCHW data, channels-first strides for NHWC data).
let permutedStrides (x: torch.Tensor) =
    let last = x.dim() - 1L
    x.transpose(1L, last).contiguous().transpose(1L, last)

/// max |a − b| / (1 + max |b|), in float64.
let relativeError (a: torch.Tensor) (b: torch.Tensor) =
    use d = a.to_type(torch.ScalarType.Float64) - b
    d.abs().max().item<float>() / (1.0 + b.abs().max().item<float>())

/// Builds `layer` twice from the same seed, the second copy in float64; runs both in training mode on the same batch of
/// 4 (the float32 one on `makeInput x`) and returns the worst relative error of the output, the input gradient and each
/// weight gradient, by name.
let float32VsFloat64 (layer: Layer) (input: Shape) (makeInput: torch.Tensor -> torch.Tensor) =
    let model = Sequential(Input(input), layer)
    torchReady 90
    use single = BuiltNetwork.Build(model)
    torchReady 90
    use double = BuiltNetwork.Build(model)
    double.``to``(torch.ScalarType.Float64) |> ignore
    use scope = torch.NewDisposeScope()
    // An Embedding takes indices (no input gradient); every other layer standard normal values.
    let indices = match layer with :? Embedding as e -> Some e.InputDim | _ -> None
    let dims = Array.append [| 4L |] (input.ToKnownArray() |> Array.map int64)
    let x64 =
        match indices with
        | Some n -> torch.randint(int64 n, dims, dtype = torch.ScalarType.Float64)
        | None -> torch.randn(dims, dtype = torch.ScalarType.Float64).requires_grad_(true)
    let x32leaf = x64.detach().to_type(torch.ScalarType.Float32).requires_grad_(indices.IsNone)
    let x32 = makeInput x32leaf
    let y64 = double.forward x64
    let y32 = single.forward x32
    let upstream = torch.randn_like(y64)
    (y64 * upstream).sum().backward()
    (y32 * upstream.to_type(torch.ScalarType.Float32)).sum().backward()
    [ yield "output", relativeError y32 y64
      if indices.IsNone then yield "input gradient", relativeError x32leaf.grad x64.grad
      for w32, w64 in Seq.zip single.Weights double.Weights do
          if w32.Trainable then yield w32.Name + " gradient", relativeError w32.Parameter.grad w64.Parameter.grad ]

/// Concrete layer types that declare weights (override `Parameters` somewhere below `Layer`).
let declaresWeights (t: Type) =
    let rec overrides (u: Type) =
        not (isNull u) && u <> typeof<Layer>
        && (u.GetMethod("Parameters", BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.DeclaredOnly, [| typeof<Shape> |]) |> isNull |> not
            || overrides u.BaseType)
    overrides t

/// A copy of a layer record made by its compiler-generated clone, whose init setters can then be called as `with` does.
let private cloneOf (layer: Layer) = layer.GetType().GetMethod("<Clone>$").Invoke(layer, [||]) :?> Layer

/// A copy of `layer` with every initializer replaced by a distinct seeded RandomUniform (through the record's clone and
/// init setters, as `with` does).
let withSeededInitializers (layer: Layer) =
    let t = layer.GetType()
    let copy = cloneOf layer
    let mutable seed = 11
    for p in t.GetProperties(BindingFlags.Public ||| BindingFlags.Instance) do
        if p.CanWrite && typeof<Initializer>.IsAssignableFrom p.PropertyType then
            p.SetValue(copy, RandomUniform(-1.0, 1.0, seed = seed))
            seed <- seed + 1
    copy

/// A copy of a layer record with another activation (through the record's clone and init setter, as `with` does).
let withActivation (layer: Layer) (name: string) =
    let copy = cloneOf layer
    layer.GetType().GetProperty("Activation").SetValue(copy, ActivationFunction(name))
    copy

[<Tests>]
let tests =
    testSequenced <| testList "Keras's numbers on every CPU" [
        test "the CPU-kernel guard decided when libtorch loaded, and its check passes under the kernels in use" {
            torchReady 1
            Expect.notEqual CpuKernels.Report.Choice CpuKernelChoice.Undecided (string CpuKernels.Report)
            match CpuKernels.Report.Choice with
            | CpuKernelChoice.OneDnnChecked ->
                Expect.isTrue CpuKernels.OneDnnEnabled "oneDNN stays on where it computed every case right"
                Expect.isEmpty CpuKernels.Report.OneDnnFailures "no failures recorded"
            | CpuKernelChoice.ReferenceAfterFailedCheck ->
                Expect.isFalse CpuKernels.OneDnnEnabled "oneDNN is off where it failed"
                Expect.isNonEmpty CpuKernels.Report.OneDnnFailures "the failures that made the choice are recorded"
            | CpuKernelChoice.ReferenceByRequest -> Expect.isFalse CpuKernels.OneDnnEnabled "FUNCTIONAL_CPU_KERNELS=reference turns oneDNN off"
            | _ -> ()
            if CpuKernels.Report.Choice = CpuKernelChoice.OneDnnChecked || CpuKernels.Report.Choice = CpuKernelChoice.ReferenceAfterFailedCheck then
                Expect.isGreaterThan CpuKernels.Report.Cases 50 "the check covers every convolution family"
            Expect.isEmpty (CpuKernels.Check()) "every case agrees with float64 under the kernels now in use"
        }

        test "every layer type that declares weights is in the float32-vs-float64 list" {
            let listed = layersWithWeights |> List.map (fun (l, _) -> l.GetType()) |> Collections.Generic.HashSet
            let withWeights =
                typeof<Layer>.Assembly.GetTypes()
                // Cells compute one step inside RNN, never alone: RNN(cell) entries cover them.
                |> Array.filter (fun t -> t.IsSubclassOf typeof<Layer> && not t.IsAbstract && declaresWeights t
                                          && not (t.IsSubclassOf typeof<RecurrentCell> || t = typeof<StackedRNNCells>))
            Expect.isGreaterThanOrEqual withWeights.Length 15 "found the layer types with weights"
            for t in withWeights do
                Expect.isTrue (listed.Contains t) (sprintf "%s declares weights: add it to layersWithWeights" t.Name)
        }

        test "float32 equals float64 for every layer with weights: output, input gradient and weight gradients, batch 4, contiguous and permuted inputs" {
            let failures =
                [ for layer, input in layersWithWeights do
                    for label, makeInput in [ "contiguous", id; "permuted strides", permutedStrides ] do
                        for what, err in float32VsFloat64 layer input makeInput do
                            if not (err <= 1e-4) then
                                yield sprintf "%s on %O (%s): %s off by %.3g" (layer.Describe()) input label what err ]
            Expect.isEmpty failures (String.Join("\n", failures) + "\n" + string CpuKernels.Report)
        }

        test "seeded initializer draws land in Keras's layout for every layer with weights (no layout is guessed)" {
            for layer, input in layersWithWeights do
                let seeded = withSeededInitializers layer
                let model = Sequential(Input(input), seeded)
                torchReady 3
                use built = BuiltNetwork.Build(model)
                let specs = seeded.Parameters(input)
                let bound = built.Weights |> List.ofSeq
                Expect.equal bound.Length specs.Count (seeded.Describe() + ": one binding per declared weight")
                for w, spec in Seq.zip bound specs do
                    // Skipped: weights whose initializer is not a property (LoRA's unseeded he_uniform A), and renorm's
                    // standard deviations, which Keras starts at the square root of a moving-variance draw.
                    let deterministic = sample spec.Initializer (List.ofArray (spec.Shape.ToKnownArray())) = sample spec.Initializer (List.ofArray (spec.Shape.ToKnownArray()))
                    if deterministic && not (w.Name.EndsWith "stddev") then
                        use view = w.KerasView()
                        Expect.sequenceEqual (view.shape |> Array.map int) (spec.Shape.ToKnownArray()) (sprintf "%s %s: Keras shape" (seeded.Describe()) w.Name)
                        Expect.sequenceEqual (floats view) (sample spec.Initializer (List.ofArray (spec.Shape.ToKnownArray()))) (sprintf "%s %s: the seeded draw in Keras's layout" (seeded.Describe()) w.Name)
        }

        test "Orthogonal on a square-shaped kernel (3 filters, 3 channels, 3×3) is orthonormal in Keras's layout" {
            torchReady 4
            for dataFormat in [ "channels_last"; "channels_first" ] do
                let input = if dataFormat = "channels_last" then Shape(6, 6, 3) else Shape(3, 6, 6)
                use built = BuiltNetwork.Build(Sequential(Input(input), Conv2D(3, 3, kernelInitializer = Orthogonal(), dataFormat = dataFormat)))
                use k = (built.Weights |> Seq.head).KerasView().reshape(-1L, 3L).to_type(torch.ScalarType.Float64)
                use gram = k.t().matmul(k)
                use eye = torch.eye(3L, dtype = torch.ScalarType.Float64)
                Expect.isLessThan ((gram - eye).abs().max().item<float>()) 1e-5 (dataFormat + ": the (27, 3) Keras kernel has orthonormal columns")
        }

        test "a convolution's softmax/log_softmax activation normalises over the last axis of its output, as Keras does" {
            torchReady 5
            for activation in [ "softmax"; "log_softmax" ] do
                for dataFormat, input in [ "channels_last", Shape(5, 4, 2); "channels_first", Shape(2, 5, 4) ] do
                    for layer in [ Conv2D(3, 2, activation = activation, dataFormat = dataFormat) :> Layer
                                   DepthwiseConv2D(2, activation = activation, dataFormat = dataFormat)
                                   SeparableConv2D(3, 2, activation = activation, dataFormat = dataFormat)
                                   Conv2DTranspose(3, 2, activation = activation, dataFormat = dataFormat) ] do
                        let linear = withActivation layer "linear"
                        torchReady 6
                        use a = BuiltNetwork.Build(Sequential(Input(input), layer))
                        torchReady 6
                        use b = BuiltNetwork.Build(Sequential(Input(input), linear))
                        use x = torch.randn(2L, int64 (input.Known 0), int64 (input.Known 1), int64 (input.Known 2))
                        use y = a.forward x
                        use z = b.forward x
                        use expected = if activation = "softmax" then torch.nn.functional.softmax(z, -1L) else torch.nn.functional.log_softmax(z, -1L)
                        Expect.isTrue (y.allclose(expected, 1e-5, 1e-6)) (sprintf "%s %s %s over the last axis" (layer.GetType().Name) dataFormat activation)
        }
    ]
