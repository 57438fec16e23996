/// BatchNormalization and LayerNormalization: parameter laws (with Keras's non-trainable moving statistics), shapes, axis
/// errors, and the built modules against naive references in training and inference mode.
module Functional.Tests.NormalizationTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support
open Functional.Tests.CoreExtraTests

/// A per-sample shape and a Keras axis into it (negative or positive, never the batch axis).
let axisCase maxRank maxDim =
    gen {
        let! rank = Gen.choose (1, maxRank)
        let! dims = Gen.listOfLength rank (Gen.choose (1, maxDim)) |> Gen.map Array.ofList
        let! sampleAxis = Gen.choose (0, rank - 1)
        let! negative = Gen.elements [ true; false ]
        let axis = if negative then sampleAxis - rank else sampleAxis + 1
        return dims, axis, sampleAxis
    }

/// Per-channel statistics of a row-major array over every axis but `ax` (dims include the batch): mean and biased variance.
let channelStats (xs: float32[]) (dims: int[]) (ax: int) =
    let st = strides dims
    let channel i = (i / st.[ax]) % dims.[ax]
    let groups = xs |> Array.mapi (fun i v -> channel i, float v) |> Array.groupBy fst |> Map.ofArray
    Array.init dims.[ax] (fun c ->
        let vs = groups.[c] |> Array.map snd
        let m = Array.average vs
        m, (vs |> Array.averageBy (fun v -> (v - m) * (v - m))))

/// Naive batch normalisation of a row-major array with the given per-channel statistics and γ, β.
let naiveBatchNorm (xs: float32[]) (dims: int[]) (ax: int) (stats: (float * float)[]) (gamma: float32[]) (beta: float32[]) eps =
    let st = strides dims
    xs |> Array.mapi (fun i v ->
        let c = (i / st.[ax]) % dims.[ax]
        let m, var = stats.[c]
        (float v - m) / sqrt (var + eps) * float gamma.[c] + float beta.[c])

let close tol (actual: float32[]) (expected: float[]) =
    actual.Length = expected.Length
    && Array.forall2 (fun (a: float32) (e: float) -> abs (float a - e) <= tol * (1.0 + abs e)) actual expected

let weight (built: BuiltNetwork) name =
    built.Weights |> Seq.find (fun w -> w.Name = name)

let setWeight (built: BuiltNetwork) name (values: float32[]) =
    let p = (weight built name).Parameter
    use _ = torch.no_grad()
    use t = torch.tensor(values).reshape(p.shape)
    p.copy_(t) |> ignore

let randomArray (rnd: Random) n scale offset = Array.init n (fun _ -> float32 (offset + scale * (rnd.NextDouble() * 2.0 - 1.0)))

[<Tests>]
let tests =
    testList "Normalization" [
        propertyWith pureConfig "BatchNormalization params = 4·C with 2·C non-trainable (gamma, beta, moving_mean, moving_variance)" (Arb.fromGen (axisCase 4 64)) (fun (dims, axis, sampleAxis) ->
            let layer = BatchNormalization(axis)
            let shape = Shape dims
            let c = int64 dims.[sampleAxis]
            let specs = layer.Parameters shape
            layer.ComputeOutputShape shape = shape
            && layer.ParameterCount shape = 4L * c
            && layer.TrainableParameterCount shape = 2L * c
            && (specs |> Seq.map (fun s -> s.Name) |> List.ofSeq) = [ "gamma"; "beta"; "moving_mean"; "moving_variance" ]
            && (specs |> Seq.map (fun s -> s.Trainable) |> List.ofSeq) = [ true; true; false; false ]
            && specs |> Seq.forall (fun s -> s.Shape = Shape(int dims.[sampleAxis])))

        propertyWith pureConfig "BatchNormalization without center/scale drops beta/gamma; moving statistics stay (2·C non-trainable)"
            (Arb.fromGen (Gen.zip (axisCase 3 32) (Gen.zip (Gen.elements [ true; false ]) (Gen.elements [ true; false ])))) (fun ((dims, axis, sampleAxis), (center, scale)) ->
            let layer = BatchNormalization(axis, center = center, scale = scale)
            let c = int64 dims.[sampleAxis]
            let trainable = (if center then c else 0L) + (if scale then c else 0L)
            layer.ParameterCount(Shape dims) = trainable + 2L * c && layer.TrainableParameterCount(Shape dims) = trainable)

        test "BatchNormalization on 10 features: Keras's summary shows 40 params, 20 non-trainable; a frozen one has all 40 non-trainable" {
            let model = Sequential(Input(10), BatchNormalization())
            let s = model.Summary()
            // Keras wraps the name cell at the space when it exceeds the column (31 characters at its 76-column width).
            Expect.stringContains s "│ batch_normalization             │ (None, 10)             │            40 │\n│ (BatchNormalization)            │" "row"
            Expect.stringContains s " Total params: 40 (160.00 B)" "total"
            Expect.stringContains s " Trainable params: 20 (80.00 B)" "trainable"
            Expect.stringContains s " Non-trainable params: 20 (80.00 B)" "non-trainable"
            let conv = Sequential(Input(8, 8, 3), Conv2D(16, 3), BatchNormalization(), MaxPooling2D())
            Expect.equal conv.ParameterCount (448L + 64L) "conv + BN(16)"
            Expect.equal conv.NonTrainableParameterCount 32L "moving stats of 16 channels"
            let frozen = Sequential(Input(10), BatchNormalization(Trainable = false))
            Expect.equal frozen.NonTrainableParameterCount 40L "frozen"
        }

        test "BatchNormalization: Keras defaults and argument errors" {
            let bn = BatchNormalization()
            Expect.equal (bn.Axis, bn.Momentum, bn.Epsilon, bn.Center, bn.Scale) (-1, 0.99, 1e-3, true, true) "defaults"
            Expect.equal bn.GammaInitializer (Ones() :> Initializer) "gamma ones"
            Expect.equal bn.MovingVarianceInitializer (Ones() :> Initializer) "moving variance ones"
            Expect.equal bn.BetaInitializer (Zeros() :> Initializer) "beta zeros"
            for m in [ -0.1; 1.5 ] do
                throwsWith<ArgumentException> [ "BatchNormalization"; "`momentum` must be"; sprintf "momentum=%g" m ] (fun () -> BatchNormalization(momentum = m) |> ignore)
            BatchNormalization(momentum = 0.0) |> ignore
            BatchNormalization(momentum = 1.0) |> ignore
            throwsWith<ArgumentException> [ "epsilon=-1" ] (fun () -> BatchNormalization(epsilon = -1.0) |> ignore)
            throwsWith<ShapeException> [ "BatchNormalization"; "(None, 4, 5)"; "axis 3"; "out of bounds" ] (fun () ->
                BatchNormalization(3).ComputeOutputShape(Shape(4, 5)) |> ignore)
            throwsWith<ShapeException> [ "BatchNormalization"; "batch axis" ] (fun () -> BatchNormalization(0).ComputeOutputShape(Shape(4, 5)) |> ignore)
            throwsWith<ShapeException> [ "out of bounds" ] (fun () -> BatchNormalization(-4).ComputeOutputShape(Shape(4, 5)) |> ignore)
        }

        propertyWith pureConfig "LayerNormalization: gamma and beta span the normalised axes, in the order given" (Arb.fromGen (axisCase 4 16)) (fun (dims, axis, sampleAxis) ->
            let shape = Shape dims
            let one = LayerNormalization(IntTuple axis)
            let all = LayerNormalization(IntTuple [| for a in dims.Length .. -1 .. 1 -> a |])   // every axis, reversed
            one.ComputeOutputShape shape = shape
            && one.ParameterCount shape = 2L * int64 dims.[sampleAxis]
            && (all.Parameters shape |> Seq.head).Shape = Shape(Array.rev dims)
            && all.ParameterCount shape = 2L * shape.Size.Value)

        test "LayerNormalization: Keras's weight counts, rms_scaling, and axis errors" {
            Expect.equal (LayerNormalization().Parameters(Shape(4, 2)) |> Seq.map (fun s -> s.Name) |> List.ofSeq) [ "gamma"; "beta" ] "names"
            Expect.equal (LayerNormalization(center = false, scale = false).ParameterCount(Shape 3)) 0L "no weights"
            Expect.equal (LayerNormalization(rmsScaling = true).Parameters(Shape 3) |> Seq.map (fun s -> s.Name) |> List.ofSeq) [ "gamma" ] "rms: gamma only"
            Expect.equal (LayerNormalization(IntTuple(-3, -2, -1)).ParameterCount(Shape(8, 8, 3))) (2L * 192L) "axis (-3, -2, -1)"
            for axis in [ 2; 99; -3; -99 ] do
                throwsWith<ShapeException> [ "LayerNormalization"; "is out of bounds"; sprintf "axis=%d" axis ] (fun () ->
                    LayerNormalization(IntTuple axis).ComputeOutputShape(Shape 4) |> ignore)
            throwsWith<ShapeException> [ "is out of bounds" ] (fun () -> LayerNormalization(IntTuple(0, 99)).ComputeOutputShape(Shape 4) |> ignore)
            throwsWith<ShapeException> [ "batch axis" ] (fun () -> LayerNormalization(IntTuple 0).ComputeOutputShape(Shape 4) |> ignore)
            throwsWith<ShapeException> [ "more than once" ] (fun () -> LayerNormalization(IntTuple(1, -1)).ComputeOutputShape(Shape 4) |> ignore)
        }

        testSequenced <| propertyWith torchConfig "built BatchNormalization, training: batch statistics (biased variance); moving = moving·m + batch·(1 − m)"
            (Arb.fromGen (Gen.zip (axisCase 3 5) (Gen.elements [ 0.0; 0.5; 0.99 ]))) (fun ((dims, axis, sampleAxis), momentum) ->
            torchReady 31
            let model = Sequential(Input(dims), BatchNormalization(axis, momentum = momentum))
            use built = BuiltNetwork.Build(model)
            let c = dims.[sampleAxis]
            let rnd = Random(c * 7 + dims.Length)
            let gamma, beta = randomArray rnd c 0.5 1.0, randomArray rnd c 0.5 0.0
            let mm0, mv0 = randomArray rnd c 1.0 0.0, randomArray rnd c 0.4 1.0
            setWeight built "batch_normalization/gamma" gamma
            setWeight built "batch_normalization/beta" beta
            setWeight built "batch_normalization/moving_mean" mm0
            setWeight built "batch_normalization/moving_variance" mv0
            let full = Array.append [| 3 |] dims
            use x = torch.randn(Shape(dims).WithBatch(3L)) * 3.0f + 2.0f
            let xs = values x
            built.train()
            use y = built.forward x
            let stats = channelStats xs full (sampleAxis + 1)
            let expected = naiveBatchNorm xs full (sampleAxis + 1) stats gamma beta 1e-3
            let mm = values (weight built "batch_normalization/moving_mean").Parameter
            let mv = values (weight built "batch_normalization/moving_variance").Parameter
            y.shape = model.OutputShape.WithBatch(3L)
            && close 1e-4 (values y) expected
            && close 1e-5 mm (Array.init c (fun i -> float mm0.[i] * momentum + fst stats.[i] * (1.0 - momentum)))
            && close 1e-5 mv (Array.init c (fun i -> float mv0.[i] * momentum + snd stats.[i] * (1.0 - momentum))))

        testSequenced <| propertyWith torchConfig "built BatchNormalization, inference: moving statistics, which stay unchanged" (Arb.fromGen (axisCase 3 5)) (fun (dims, axis, sampleAxis) ->
            torchReady 32
            use built = BuiltNetwork.Build(Sequential(Input(dims), BatchNormalization(axis, epsilon = 0.01)))
            let c = dims.[sampleAxis]
            let rnd = Random(c * 3 + dims.Length)
            let gamma, beta = randomArray rnd c 0.5 1.0, randomArray rnd c 0.5 0.0
            let mm, mv = randomArray rnd c 1.0 0.0, randomArray rnd c 0.4 1.0
            for n, v in [ "gamma", gamma; "beta", beta; "moving_mean", mm; "moving_variance", mv ] do setWeight built ("batch_normalization/" + n) v
            let full = Array.append [| 4 |] dims
            use x = torch.randn(Shape(dims).WithBatch(4L))
            use y = built.forward x
            let stats = Array.init c (fun i -> float mm.[i], float mv.[i])
            close 1e-4 (values y) (naiveBatchNorm (values x) full (sampleAxis + 1) stats gamma beta 0.01)
            && values (weight built "batch_normalization/moving_mean").Parameter = mm
            && values (weight built "batch_normalization/moving_variance").Parameter = mv)

        testSequenced <| test "a frozen BatchNormalization runs in inference mode even in training (Keras) and never updates its statistics" {
            torchReady 33
            use built = BuiltNetwork.Build(Sequential(Input(6), BatchNormalization(momentum = 0.8, Trainable = false)))
            use x = torch.randn(50L, 6L) * 10.0f + 5.0f
            built.train()
            use y = built.forward x
            Expect.isTrue (y.allclose(x / sqrt (1.0f + 1e-3f), 1e-5, 1e-5)) "moving stats (0, 1): x / sqrt(1 + eps)"
            Expect.equal (values (weight built "batch_normalization/moving_mean").Parameter) (Array.zeroCreate 6) "unchanged"
            Expect.isEmpty (built.TrainableParameters |> List.ofSeq) "nothing to train"
        }

        testSequenced <| test "Keras's test_correctness: momentum 0, three training passes normalise to mean 0 / std 1; inference then matches training" {
            torchReady 34
            for axis, dims in [ -1, [| 2; 3 |]; 1, [| 2; 3 |]; -1, [| 3; 3; 2 |]; 1, [| 3; 3; 2 |] ] do
                use built = BuiltNetwork.Build(Sequential(Input(dims), BatchNormalization(axis, momentum = 0.0)))
                use x = torch.randn(Shape(dims).WithBatch(5L)) * 10.0f + 5.0f
                built.train()
                let mutable out = x.alias()
                for _ in 1 .. 3 do out <- built.forward out
                let ax = if axis < 0 then dims.Length else axis
                let reduce = [| 0 .. dims.Length |] |> Array.filter (fun d -> d <> ax) |> Array.map int64
                Expect.isTrue (out.mean(reduce).abs().max().item<float32>() < 1e-3f) "mean 0"
                Expect.isTrue ((out.std(reduce, unbiased = false) - 1.0f).abs().max().item<float32>() < 1e-3f) "std 1"
                let mm = (weight built "batch_normalization/moving_mean").Parameter
                Expect.isTrue (mm.abs().max().item<float32>() < 1e-3f) "moving mean ≈ 0"
                use training = built.forward x
                built.eval()
                use inference = built.forward x
                Expect.isTrue (training.allclose(inference, 1e-4, 1e-4)) "momentum 0: inference = training after a pass on the same batch"
        }

        testSequenced <| test "BatchNormalization after channels_last and channels_first convolutions normalises the channel axis (layout handling)" {
            torchReady 35
            for channelsLast in [ true; false ] do
                let fmt = if channelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
                let input = if channelsLast then Input(6, 5, 2) else Input(2, 6, 5)
                let conv () = Conv2D(4, 3, dataFormat = fmt, Name = "c") :> Layer
                let axis = if channelsLast then -1 else 1
                use withBn = BuiltNetwork.Build(Sequential(input, conv (), BatchNormalization(axis, Name = "bn"), Conv2D(3, 1, dataFormat = fmt, Name = "d")))
                use convOnly = BuiltNetwork.Build(Sequential(input, conv ()))
                for w in [ "c/kernel"; "c/bias" ] do
                    use _ = torch.no_grad()
                    (weight convOnly w).Parameter.copy_((weight withBn w).Parameter) |> ignore
                use x = torch.randn(input.Shape.WithBatch(3L))
                withBn.train()
                use _y = withBn.forward x
                // The moving statistics must be the per-channel statistics of the conv output in its logical layout.
                use h = convOnly.forward x
                let dims = Array.append [| 3 |] (convOnly.Declaration.OutputShapes.[0].ToKnownArray())
                let stats = channelStats (values h) dims (if channelsLast then 3 else 1)
                let mm = values (weight withBn "bn/moving_mean").Parameter
                Expect.isTrue (close 1e-4 mm (stats |> Array.map (fun (m, _) -> 0.01 * m))) (sprintf "moving mean on the channel axis (%A)" fmt)
                let mv = values (weight withBn "bn/moving_variance").Parameter
                Expect.isTrue (close 1e-4 mv (stats |> Array.map (fun (_, v) -> 0.99 + 0.01 * v))) "moving variance on the channel axis"
        }

        testSequenced <| test "built BatchNormalization: Σ numel = counted, Keras names and trainability, moving statistics saved with the weights" {
            torchReady 36
            let model = Sequential(Input(4, 4, 7), BatchNormalization(gammaRegularizer = L2(0.5)))
            use built = BuiltNetwork.Build(model)
            let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
            Expect.equal numel model.ParameterCount "Σ numel"
            Expect.equal ([ for w in built.Weights -> w.Name, w.Trainable ])
                [ "batch_normalization/gamma", true; "batch_normalization/beta", true
                  "batch_normalization/moving_mean", false; "batch_normalization/moving_variance", false ] "bindings"
            Expect.equal (built.TrainableParameters |> Seq.sumBy (fun p -> p.numel())) 14L "only gamma and beta train"
            let keys = built.state_dict().Keys |> List.ofSeq
            Expect.isTrue (keys |> List.exists (fun k -> k.EndsWith "moving_mean")) "moving_mean in the state dict"
            Expect.isTrue (keys |> List.exists (fun k -> k.EndsWith "moving_variance")) "moving_variance in the state dict"
            use reg = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (reg.item<float32>())) (0.5 * 7.0) "gamma regularizer: 0.5·Σ1²"
        }

        testSequenced <| test "LayerNormalization: Keras's test_output and test_output_with_rms_scaling values" {
            torchReady 37
            use built = BuiltNetwork.Build(Sequential(Input(5), LayerNormalization(betaInitializer = "ones", gammaInitializer = "ones")))
            use x = torch.arange(5.0f).reshape(1L, 5L)
            use y = built.forward x
            Expect.isTrue (close 1e-4 (values y) [| -0.41386; 0.29307; 1.0; 1.70693; 2.41386 |]) "test_output"
            use rms = BuiltNetwork.Build(Sequential(Input(5), LayerNormalization(rmsScaling = true)))
            use z = rms.forward x
            Expect.isTrue (close 1e-4 (values z) [| 0.0; 0.70693; 1.41386; 2.12079; 2.82772 |]) "test_output_with_rms_scaling"
        }

        testSequenced <| propertyWith torchConfig "built LayerNormalization matches a naive per-sample normalisation over any axes" (Arb.fromGen (axisCase 3 4)) (fun (dims, axis, _) ->
            torchReady 38
            // Normalise over the given axis and, half of the time, every later axis too.
            let rank = dims.Length
            let first = if axis < 0 then axis + rank else axis - 1
            let axes = if first % 2 = 0 then [| first |] else [| first .. rank - 1 |]
            let model = Sequential(Input(dims), LayerNormalization(IntTuple(axes |> Array.map (fun a -> a + 1))))
            use built = BuiltNetwork.Build(model)
            let pshape = Array.map (fun a -> dims.[a]) axes
            let n = Array.reduce (*) pshape
            let rnd = Random(n + rank)
            let gamma, beta = randomArray rnd n 0.5 1.0, randomArray rnd n 0.5 0.0
            setWeight built "layer_normalization/gamma" gamma
            setWeight built "layer_normalization/beta" beta
            let full = Array.append [| 2 |] dims
            use x = torch.randn(Shape(dims).WithBatch(2L)) * 2.0f + 1.0f
            use y = built.forward x
            let xs = values x
            let st = strides full
            let idx i = Array.init full.Length (fun d -> (i / st.[d]) % full.[d])
            // Group by sample and the non-normalised axes; gamma/beta index over the normalised axes (sorted = given here).
            let key i = let m = idx i in [ for d in 0 .. rank -> if d = 0 || not (Array.contains (d - 1) axes) then m.[d] else -1 ]
            let pst = strides pshape
            let pidx i = let m = idx i in Array.mapi (fun k a -> m.[a + 1] * pst.[k]) axes |> Array.sum
            let groups = xs |> Array.mapi (fun i v -> key i, float v) |> Array.groupBy fst |> Map.ofArray
            let stats = groups |> Map.map (fun _ g -> let vs = Array.map snd g in let m = Array.average vs in m, Array.averageBy (fun v -> (v - m) ** 2.0) vs)
            let expected = xs |> Array.mapi (fun i v -> let m, var = stats.[key i] in (float v - m) / sqrt (var + 1e-3) * float gamma.[pidx i] + float beta.[pidx i])
            y.shape = model.OutputShape.WithBatch(2L) && close 1e-4 (values y) expected)
    ]

/// Keras 3's batch renormalization in training (batch_normalization.py `_renorm_correction_and_moments`,
/// `_compose_transforms`, `_update_renorm_statistics`), naively per channel: the output and every updated statistic.
let naiveRenorm (xs: float32[]) (dims: int[]) (ax: int) (gamma: float32[]) (beta: float32[]) (renormMean: float32[]) (renormStd: float32[])
                (clip: RenormClipping) eps =
    let stats = channelStats xs dims ax
    let st = strides dims
    let c = dims.[ax]
    let rd =
        Array.init c (fun i ->
            let m, v = stats.[i]
            let s = max (float renormStd.[i]) (sqrt eps)
            let mutable r = sqrt (v + eps) / s
            let mutable d = (m - float renormMean.[i]) / s
            if clip.RMin.HasValue then r <- max r clip.RMin.Value
            if clip.RMax.HasValue then r <- min r clip.RMax.Value
            if clip.DMax.HasValue then d <- max (-clip.DMax.Value) (min d clip.DMax.Value)
            r, d)
    let y =
        xs |> Array.mapi (fun i v ->
            let k = (i / st.[ax]) % c
            let m, var = stats.[k]
            let r, d = rd.[k]
            ((float v - m) / sqrt (var + eps) * r + d) * float gamma.[k] + float beta.[k])
    y, stats, rd

[<Tests>]
let renormTests =
    testList "BatchNormalization renorm" [
        propertyWith pureConfig "renorm adds moving_stddev, renorm_mean, renorm_stddev: 7·C params, 5·C non-trainable (2·C fewer trainable without center/scale)"
            (Arb.fromGen (Gen.zip (axisCase 4 64) (Gen.elements [ true; false ]))) (fun ((dims, axis, sampleAxis), affine) ->
            let layer = BatchNormalization(axis, center = affine, scale = affine, renorm = true)
            let shape = Shape dims
            let c = int64 dims.[sampleAxis]
            let specs = layer.Parameters shape
            let affineNames = if affine then [ "gamma"; "beta" ] else []
            layer.ParameterCount shape = (if affine then 7L else 5L) * c
            && layer.TrainableParameterCount shape = (if affine then 2L * c else 0L)
            && (specs |> Seq.map (fun s -> s.Name) |> List.ofSeq)
               = affineNames @ [ "moving_mean"; "moving_variance"; "moving_stddev"; "renorm_mean"; "renorm_stddev" ]
            && (specs |> Seq.filter (fun s -> not s.Trainable) |> Seq.length) = 5)

        test "Keras's summary of BatchNormalization(renorm=True) on 10 features: 70 params, 50 non-trainable" {
            let model = Sequential(Input(10), BatchNormalization(renorm = true))
            let s = model.Summary()
            Expect.stringContains s "│            70 │" "row"
            Expect.stringContains s " Total params: 70 (280.00 B)" "total"
            Expect.stringContains s " Trainable params: 20 (80.00 B)" "trainable"
            Expect.stringContains s " Non-trainable params: 50 (200.00 B)" "non-trainable"
            Expect.equal (Sequential(Input(10), BatchNormalization(renorm = true, synchronized = true)).ParameterCount) 70L "synchronized adds nothing"
        }

        test "renorm arguments: Keras's defaults; renorm_clipping and renorm_momentum are checked, naming the layer and argument" {
            let bn = BatchNormalization()
            Expect.equal (bn.Renorm, bn.RenormClipping, bn.RenormMomentum, bn.Synchronized) (false, null, 0.99, false) "defaults"
            Expect.isNull (BatchNormalization(renorm = true, renormClipping = RenormClipping()).RenormClipping) "an empty clipping ({}) clips nothing"
            let clip = RenormClipping(RMax = Nullable 3.0, DMax = Nullable 5.0)
            Expect.equal (BatchNormalization(renorm = true, renormClipping = clip).RenormClipping) clip "kept"
            Expect.equal (string clip) "{'rmax': 3, 'dmax': 5}" "printed as Keras's dictionary"
            throwsWith<ArgumentException> [ "BatchNormalization"; "renormClipping"; "rmax should be greater than rmin"; "'rmax': 1"; "'rmin': 2" ] (fun () ->
                BatchNormalization(renorm = true, renormClipping = RenormClipping(RMax = Nullable 1.0, RMin = Nullable 2.0)) |> ignore)
            throwsWith<ArgumentException> [ "BatchNormalization"; "renormClipping"; "non-negative dmax"; "'dmax': -1" ] (fun () ->
                BatchNormalization(renorm = true, renormClipping = RenormClipping(DMax = Nullable -1.0)) |> ignore)
            throwsWith<ArgumentException> [ "renormClipping"; "finite" ] (fun () ->
                BatchNormalization(renorm = true, renormClipping = RenormClipping(RMax = Nullable nan)) |> ignore)
            throwsWith<ArgumentException> [ "BatchNormalization"; "renorm_momentum"; "renormMomentum=1.5" ] (fun () ->
                BatchNormalization(renorm = true, renormMomentum = 1.5) |> ignore)
            BatchNormalization(renorm = true, renormClipping = RenormClipping(RMax = Nullable 1.0, RMin = Nullable 1.0, DMax = Nullable 0.0)) |> ignore
        }

        testSequenced <| propertyWith torchConfig "renorm training: ((x − μ)/σ · r + d) · γ + β with clipped r, d; every statistic moves as in Keras"
            (Arb.fromGen (Gen.zip3 (axisCase 3 5) (Gen.elements [ 0.0; 0.5; 0.99 ]) (Gen.elements [ 0; 1; 2 ]))) (fun ((dims, axis, sampleAxis), momentum, clipCase) ->
            torchReady 39
            let clip =
                match clipCase with
                | 0 -> RenormClipping()
                | 1 -> RenormClipping(RMax = Nullable 1.2, RMin = Nullable 0.9, DMax = Nullable 0.1)
                | _ -> RenormClipping(DMax = Nullable 0.5)
            let eps = 1e-3
            let model = Sequential(Input(dims), BatchNormalization(axis, momentum = momentum, renorm = true, renormClipping = clip, renormMomentum = 0.8))
            use built = BuiltNetwork.Build(model)
            let c = dims.[sampleAxis]
            let rnd = Random(c * 11 + dims.Length)
            let gamma, beta = randomArray rnd c 0.5 1.0, randomArray rnd c 0.5 0.0
            let mm0, ms0 = randomArray rnd c 1.0 0.0, randomArray rnd c 0.4 1.0
            let rm0, rs0 = randomArray rnd c 1.0 0.5, randomArray rnd c 0.5 1.0
            for n, v in [ "gamma", gamma; "beta", beta; "moving_mean", mm0; "moving_stddev", ms0; "renorm_mean", rm0; "renorm_stddev", rs0 ] do
                setWeight built ("batch_normalization/" + n) v
            let full = Array.append [| 4 |] dims
            use x = torch.randn(Shape(dims).WithBatch(4L)) * 3.0f + 2.0f
            let xs = values x
            built.train()
            use y = built.forward x
            let expected, stats, _ = naiveRenorm xs full (sampleAxis + 1) gamma beta rm0 rs0 clip eps
            let stat name = values (weight built ("batch_normalization/" + name)).Parameter
            let ema (old: float32[]) m (batch: int -> float) = Array.init c (fun i -> float old.[i] * m + batch i * (1.0 - m))
            let std i = sqrt (snd stats.[i] + eps)
            let ms = ema ms0 momentum std
            close 1e-4 (values y) expected
            && close 1e-5 (stat "renorm_mean") (ema rm0 0.8 (fun i -> fst stats.[i]))
            && close 1e-5 (stat "renorm_stddev") (ema rs0 0.8 std)
            && close 1e-5 (stat "moving_mean") (ema mm0 momentum (fun i -> fst stats.[i]))
            && close 1e-5 (stat "moving_stddev") ms
            && close 1e-4 (stat "moving_variance") (ms |> Array.map (fun s -> max 0.0 (s * s - eps))))

        testSequenced <| test "renorm: r and d carry no gradient (the input gradient is plain BN's with γ' = r·γ, β' = d·γ + β); inference uses the moving statistics" {
            torchReady 40
            let dims = [| 3; 4 |]
            let eps = 1e-3
            // No clipping: a clipped r or d has no gradient anyway, so this is where a leaking gradient would show.
            let clip = RenormClipping()
            use renorm = BuiltNetwork.Build(Sequential(Input(dims), BatchNormalization(renorm = true, renormClipping = clip)))
            use plain = BuiltNetwork.Build(Sequential(Input(dims), BatchNormalization()))
            let rnd = Random 3
            let gamma, beta = randomArray rnd 4 0.5 1.0, randomArray rnd 4 0.5 0.0
            let rm0, rs0 = randomArray rnd 4 1.0 0.0, randomArray rnd 4 0.3 0.7
            for n, v in [ "gamma", gamma; "beta", beta; "renorm_mean", rm0; "renorm_stddev", rs0 ] do setWeight renorm ("batch_normalization/" + n) v
            use x0 = torch.randn(5L, 3L, 4L) * 2.0f
            let _, _, rd = naiveRenorm (values x0) [| 5; 3; 4 |] 2 gamma beta rm0 rs0 clip eps
            setWeight plain "batch_normalization/gamma" (Array.init 4 (fun i -> float32 (fst rd.[i] * float gamma.[i])))
            setWeight plain "batch_normalization/beta" (Array.init 4 (fun i -> float32 (snd rd.[i] * float gamma.[i] + float beta.[i])))
            use w = torch.randn(5L, 3L, 4L)
            let inputGradient (net: BuiltNetwork) =
                use x = x0.detach().requires_grad_(true)
                net.train()
                use y = net.forward x
                use loss = (y * w).sum()
                loss.backward()
                x.grad.detach().clone()
            use gRenorm = inputGradient renorm
            use gPlain = inputGradient plain
            Expect.isTrue (gRenorm.allclose(gPlain, 1e-4, 1e-5)) "same input gradient"
            // Inference: (x − moving_mean) / √(moving_variance + ε) · γ + β, statistics untouched.
            let mm = values (weight renorm "batch_normalization/moving_mean").Parameter
            let mv = values (weight renorm "batch_normalization/moving_variance").Parameter
            renorm.eval()
            use y = renorm.forward x0
            let stats = Array.init 4 (fun i -> float mm.[i], float mv.[i])
            Expect.isTrue (close 1e-4 (values y) (naiveBatchNorm (values x0) [| 5; 3; 4 |] 2 stats gamma beta eps)) "moving statistics"
            Expect.equal (values (weight renorm "batch_normalization/moving_mean").Parameter) mm "unchanged"
            // A frozen renorm layer runs in inference mode in training too.
            use frozen = BuiltNetwork.Build(Sequential(Input(dims), BatchNormalization(renorm = true, Trainable = false)))
            frozen.train()
            use z = frozen.forward x0
            Expect.isTrue (z.allclose(x0 / sqrt (1.0f + 1e-3f), 1e-5, 1e-5)) "moving stats (0, 1)"
        }

        testSequenced <| test "renorm weights: Keras's names and order, √ of the moving-variance initializer, saved with the model; synchronized computes as plain BN" {
            torchReady 41
            let model = Sequential(Input(2, 3), BatchNormalization(movingMeanInitializer = Constant(0.5), movingVarianceInitializer = Constant(4.0), renorm = true))
            use built = BuiltNetwork.Build(model)
            Expect.equal [ for w in built.Weights -> w.Name, w.Trainable ]
                [ "batch_normalization/gamma", true; "batch_normalization/beta", true
                  "batch_normalization/moving_mean", false; "batch_normalization/moving_variance", false
                  "batch_normalization/moving_stddev", false; "batch_normalization/renorm_mean", false
                  "batch_normalization/renorm_stddev", false ] "bindings"
            for name, v in [ "moving_variance", 4.0f; "moving_stddev", 2.0f; "renorm_mean", 0.5f; "renorm_stddev", 2.0f ] do
                Expect.equal (values (weight built ("batch_normalization/" + name)).Parameter) (Array.create 3 v) name
            Expect.equal (built.parameters() |> Seq.sumBy (fun p -> p.numel())) model.ParameterCount "Σ numel = counted"
            use x = torch.randn(6L, 2L, 3L)
            use a = BuiltNetwork.Build(Sequential(Input(2, 3), BatchNormalization(momentum = 0.5)))
            use b = BuiltNetwork.Build(Sequential(Input(2, 3), BatchNormalization(momentum = 0.5, synchronized = true)))
            a.train()
            b.train()
            use ya = a.forward x
            use yb = b.forward x
            Expect.isTrue (ya.allclose(yb, 0.0, 0.0)) "synchronized = plain on one device"
            Expect.equal (values (weight b "batch_normalization/moving_variance").Parameter) (values (weight a "batch_normalization/moving_variance").Parameter) "same statistics"
        }

        test "renorm configs: Keras's keys, renorm_clipping as a dictionary; Keras-written configs load; bad clipping keys are named" {
            let bn = BatchNormalization(renorm = true, renormClipping = RenormClipping(3.0, 0.25, 5.0), renormMomentum = 0.9, synchronized = true)
            let config = (LayerConfig.Serialize bn).["config"].AsObject()
            Expect.equal (config.["renorm"].GetValue<bool>()) true "renorm"
            Expect.equal (config.["renorm_clipping"].ToJsonString()) """{"rmax":3,"rmin":0.25,"dmax":5}""" "renorm_clipping"
            Expect.equal (config.["renorm_momentum"].GetValue<double>()) 0.9 "renorm_momentum"
            Expect.equal (config.["synchronized"].GetValue<bool>()) true "synchronized"
            Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson bn)) (bn :> Layer) "round trip"
            Expect.equal (LayerConfig.FromJson(LayerConfig.ToJson(BatchNormalization()))) (BatchNormalization() :> Layer) "plain round trip"
            let keras (clipping: string) =
                sprintf """{"module": "keras.layers", "class_name": "BatchNormalization", "config": {"name": "bn", "trainable": true,
                    "dtype": "float32", "axis": -1, "momentum": 0.99, "epsilon": 0.001, "center": true, "scale": true,
                    "beta_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                    "gamma_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null},
                    "moving_mean_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                    "moving_variance_initializer": {"module": "keras.initializers", "class_name": "Ones", "config": {}, "registered_name": null},
                    "beta_regularizer": null, "gamma_regularizer": null, "beta_constraint": null, "gamma_constraint": null,
                    "synchronized": false, "renorm": true, "renorm_clipping": %s, "renorm_momentum": 0.95}, "registered_name": null}""" clipping
            let read = LayerConfig.FromJson(keras """{"rmax": 2.0, "dmax": 1.0}""") :?> BatchNormalization
            Expect.equal (read.Renorm, read.RenormClipping, read.RenormMomentum) (true, RenormClipping(RMax = Nullable 2.0, DMax = Nullable 1.0), 0.95) "read"
            Expect.isNull (LayerConfig.FromJson(keras "{}") :?> BatchNormalization).RenormClipping "{} clips nothing"
            throwsWith<ModelConfigException> [ "$.config.renorm_clipping.rmx"; "invalid key 'rmx'"; "'rmax', 'rmin', 'dmax'" ] (fun () ->
                LayerConfig.FromJson(keras """{"rmx": 2.0}""") |> ignore)
            throwsWith<ModelConfigException> [ "$.config.renorm_clipping"; "rmax should be greater than rmin" ] (fun () ->
                LayerConfig.FromJson(keras """{"rmax": 1.0, "rmin": 2.0}""") |> ignore)
            throwsWith<ModelConfigException> [ "$.config.renorm_clipping.dmax"; "a number" ] (fun () ->
                LayerConfig.FromJson(keras """{"dmax": "big"}""") |> ignore)
        }
    ]
