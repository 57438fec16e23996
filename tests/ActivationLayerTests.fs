/// Activation layers (ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU, Softmax): Keras's formulas against naive references,
/// PReLU's parameter law, Keras's worked examples and argument errors.
module Functional.Tests.ActivationLayerTests

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
open Functional.Tests.NormalizationTests

/// Keras's ReLU on one value, following keras.activations.relu's code (threshold: x·[x > θ]; clip; minus slope·relu(θ − x)).
let naiveRelu (maxValue: float option) slope threshold (x: float) =
    let pos = if threshold <> 0.0 then (if x > threshold then x else 0.0) else max x 0.0
    let clipped = match maxValue with Some m -> min (max pos 0.0) m | None -> pos
    clipped - slope * max (threshold - x) 0.0

/// Runs one layer on a batch through a Sequential model; returns input and output values.
let runLayer (layer: Layer) (dims: int[]) (batch: int64) (scale: float32) =
    use built = BuiltNetwork.Build(Sequential(Input(dims), layer))
    use x = torch.randn(Shape(dims).WithBatch(batch)) * scale
    use y = built.forward x
    values x, values y, y.shape

let reluCase =
    gen {
        let! hasMax = Gen.elements [ true; false ]
        let! maxValue = Gen.choose (0, 40) |> Gen.map (fun v -> float v / 10.0)
        let! slope = Gen.elements [ 0.0; 0.1; 0.5; 1.0 ]
        let! threshold = Gen.elements [ 0.0; 0.5; 1.0; 2.5 ]
        return (if hasMax then Some maxValue else None), slope, threshold
    }

let layerOf (m: float option, slope, threshold) =
    match m with
    | Some v -> ReLU(Nullable v, slope, threshold)
    | None -> ReLU(negativeSlope = slope, threshold = threshold)

[<Tests>]
let tests =
    testList "Activation layers" [
        test "activation layers keep the shape, have no weights (but PReLU), and get Keras's default names" {
            let shape = Shape(4, 5, 6)
            for layer in [ ReLU() :> Layer; LeakyReLU(); ELU(); ThresholdedReLU(); Softmax() ] do
                Expect.equal (layer.ComputeOutputShape shape) shape layer.ClassName
                Expect.equal (layer.ParameterCount shape) 0L layer.ClassName
            let model = Sequential(Input(8), ReLU(), LeakyReLU(), PReLU(), ELU(), ThresholdedReLU(), Softmax(), ReLU())
            Expect.equal [ for l in model.Layers -> l.Name ]
                [ "re_lu"; "leaky_re_lu"; "p_re_lu"; "elu"; "thresholded_re_lu"; "softmax"; "re_lu_1" ] "names"
        }

        test "Keras defaults: LeakyReLU slope 0.3, ELU alpha 1, ThresholdedReLU theta 1, Softmax axis -1, PReLU alpha zeros" {
            Expect.equal (LeakyReLU().NegativeSlope) 0.3 "Keras 3's LeakyReLU default"
            Expect.equal (ELU().Alpha) 1.0 "ELU"
            Expect.equal (ThresholdedReLU().Theta) 1.0 "ThresholdedReLU"
            Expect.equal (Softmax().Axis) (IntTuple -1) "Softmax"
            Expect.equal (PReLU().AlphaInitializer) (Zeros() :> Initializer) "PReLU"
            let r = ReLU()
            Expect.equal (r.MaxValue, r.NegativeSlope, r.Threshold) (Nullable(), 0.0, 0.0) "ReLU"
        }

        test "argument errors name the layer, the argument and the value, with Keras's wording" {
            throwsWith<ArgumentException> [ "ReLU"; "maxValue=-10"; "max_value of a ReLU layer cannot be a negative value" ] (fun () -> ReLU(Nullable -10.0) |> ignore)
            throwsWith<ArgumentException> [ "ReLU"; "negativeSlope=-10"; "negative_slope of a ReLU layer cannot be a negative value" ] (fun () ->
                ReLU(negativeSlope = -10.0) |> ignore)
            throwsWith<ArgumentException> [ "ReLU"; "threshold=-10"; "threshold of a ReLU layer cannot be a negative value" ] (fun () ->
                ReLU(threshold = -10.0) |> ignore)
            throwsWith<ArgumentException> [ "LeakyReLU"; "negativeSlope=-0.1"; "cannot be None or negative" ] (fun () -> LeakyReLU(-0.1) |> ignore)
            throwsWith<ArgumentException> [ "ThresholdedReLU"; "theta=-1"; "should be >=0" ] (fun () -> ThresholdedReLU(-1.0) |> ignore)
            throwsWith<ArgumentException> [ "ELU"; "alpha=NaN" ] (fun () -> ELU(nan) |> ignore)
            throwsWith<ArgumentException> [ "PReLU"; "sharedAxes" ] (fun () -> PReLU(sharedAxes = IntTuple 0) |> ignore)
            throwsWith<ShapeException> [ "PReLU"; "(None, 4, 5)"; "shared axis 3" ] (fun () -> PReLU(sharedAxes = IntTuple 3).ComputeOutputShape(Shape(4, 5)) |> ignore)
            throwsWith<ShapeException> [ "Softmax"; "axis 3"; "out of bounds" ] (fun () -> Softmax(IntTuple 3).ComputeOutputShape(Shape(4, 5)) |> ignore)
        }

        propertyWith pureConfig "PReLU: alpha = input shape with the shared (1-based) axes set to 1; params = its size"
            (Arb.fromGen (gen {
                let! dims = Gen.listOfLength 3 (Gen.choose (1, 40)) |> Gen.map Array.ofList
                let! shared = Gen.subListOf [ 1; 2; 3 ]
                return dims, Array.ofSeq shared })) (fun (dims, shared) ->
            let layer = PReLU(sharedAxes = IntTuple shared)
            let alpha = dims |> Array.mapi (fun i d -> if Array.contains (i + 1) shared then 1 else d)
            (layer.Parameters(Shape dims) |> Seq.exactlyOne).Shape = Shape alpha
            && layer.ParameterCount(Shape dims) = (alpha |> Array.map int64 |> Array.reduce (*))
            && layer.ComputeOutputShape(Shape dims) = Shape dims)

        test "PReLU counts as Keras: Conv2D(32) output (26, 26, 32) → 21,632 unshared, 32 with sharedAxes (1, 2)" {
            Expect.equal (PReLU().ParameterCount(Shape(26, 26, 32))) 21632L "unshared"
            Expect.equal (PReLU(sharedAxes = IntTuple(1, 2)).ParameterCount(Shape(26, 26, 32))) 32L "shared over space"
        }

        test "ReLU.Apply is Keras's piecewise formula: Keras's own test vectors" {
            let run (r: ReLU) xs = xs |> Array.map r.Apply
            Expect.equal (run (ReLU(Nullable 10.0, 0.0, 0.0)) [| -10.0; -5.0; 0.0; 5.0; 10.0 |]) [| 0.0; 0.0; 0.0; 5.0; 10.0 |] "normal"
            Expect.equal (run (ReLU(Nullable 10.0, 0.5, 0.0)) [| -10.0; -5.0; 0.0; 5.0; 10.0 |]) [| -5.0; -2.5; 0.0; 5.0; 10.0 |] "leaky"
            Expect.equal (run (ReLU(Nullable 8.0, 0.0, 5.0)) [| 6.0; 7.0; 0.0; 5.0; 10.0 |]) [| 6.0; 7.0; 0.0; 0.0; 8.0 |] "threshold"
        }

        propertyWith pureConfig "ReLU.Apply agrees with the naive Keras formula" (Arb.fromGen (Gen.zip reluCase (Gen.choose (-60, 60)))) (fun (c, xi) ->
            let m, s, t = c
            let x = float xi / 10.0
            abs ((layerOf c).Apply x - naiveRelu m s t x) < 1e-12)

        testSequenced <| propertyWith torchConfig "built ReLU matches the naive Keras formula for every option" (Arb.fromGen reluCase) (fun c ->
            torchReady 41
            let m, s, t = c
            let xs, ys, _ = runLayer (layerOf c) [| 5; 7 |] 3L 3.0f
            close 1e-6 ys (xs |> Array.map (fun v -> naiveRelu m s t (float v))))

        testSequenced <| test "built LeakyReLU, ELU and ThresholdedReLU match their formulas" {
            torchReady 42
            for slope in [ 0.3; 0.0; 1.7 ] do
                let xs, ys, _ = runLayer (LeakyReLU(slope)) [| 20 |] 4L 3.0f
                Expect.isTrue (close 1e-6 ys (xs |> Array.map (fun v -> let x = float v in if x >= 0.0 then x else slope * x))) (sprintf "leaky %g" slope)
            for alpha in [ 1.0; 0.5; 2.0 ] do
                let xs, ys, _ = runLayer (ELU(alpha)) [| 20 |] 4L 3.0f
                Expect.isTrue (close 1e-5 ys (xs |> Array.map (fun v -> let x = float v in if x > 0.0 then x else alpha * (exp x - 1.0)))) (sprintf "elu %g" alpha)
            for theta in [ 1.0; 0.0; 0.25 ] do
                let xs, ys, _ = runLayer (ThresholdedReLU(theta)) [| 20 |] 4L 2.0f
                Expect.isTrue (close 0.0 ys (xs |> Array.map (fun v -> let x = float v in if x > theta then x else 0.0))) (sprintf "thresholded %g" theta)
        }

        testSequenced <| test "built PReLU: Keras's test_prelu_correctness with alpha shared over (1, 2) on (10, 5, 3)" {
            torchReady 43
            let model = Sequential(Input(10, 5, 3), PReLU(alphaInitializer = "glorot_uniform", alphaRegularizer = "l1", alphaConstraint = "non_neg", sharedAxes = IntTuple(1, 2)))
            use built = BuiltNetwork.Build(model)
            Expect.equal (built.parameters() |> Seq.sumBy (fun p -> p.numel())) model.ParameterCount "Σ numel = counted"
            let alpha = [| 0.2f; 0.7f; 0.05f |]
            setWeight built "p_re_lu/alpha" alpha
            use x = torch.randn(2L, 10L, 5L, 3L)
            use y = built.forward x
            let xs = values x
            let expected = xs |> Array.mapi (fun i v -> let x = float v in if x > 0.0 then x else float alpha.[i % 3] * x)
            Expect.isTrue (close 1e-6 (values y) expected) "np_prelu"
            let w = weight built "p_re_lu/alpha"
            Expect.equal w.Parameter.shape [| 1L; 1L; 3L |] "alpha in Keras's layout"
            Expect.isTrue w.Trainable "trainable"
            use reg = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (reg.item<float32>())) (0.01 * 0.95) "l1 regularizer on alpha"
        }

        testSequenced <| test "built PReLU starts as relu (alpha zeros) and learns alpha by gradient" {
            torchReady 44
            use built = BuiltNetwork.Build(Sequential(Input(4), PReLU()))
            use x = torch.randn(6L, 4L)
            use y = built.forward x
            Expect.equal (values y) (values (x.relu())) "relu at init"
            use opt = torch.optim.SGD(built.TrainableParameters, 0.1)
            let loss (p: torch.Tensor) (t: torch.Tensor) = (p - t).square().mean()
            built.TrainStep(x, x, loss, opt) |> ignore
            Expect.isTrue ((weight built "p_re_lu/alpha").Parameter.abs().sum().item<float32>() > 0.0f) "alpha moved"
        }

        testSequenced <| test "built Softmax: Keras's example, single and joint axes against a naive softmax" {
            torchReady 45
            use built = BuiltNetwork.Build(Sequential(Input(3), Softmax()))
            use x = torch.tensor([| 1.0f; 2.0f; 1.0f |]).reshape(1L, 3L)
            use y = built.forward x
            Expect.isTrue (close 1e-6 (values y) [| 0.21194157; 0.5761169; 0.21194157 |]) "Keras's example"
            let dims = [| 3; 4; 5 |]
            for axes in [ [| -1 |]; [| 1 |]; [| 2 |]; [| 1; 2 |]; [| -1; 1 |]; [| 1; 2; 3 |] ] do
                let xs, ys, _ = runLayer (Softmax(IntTuple axes)) dims 2L 2.0f
                let full = Array.append [| 2 |] dims
                let tensorAxes = axes |> Array.map (fun a -> if a < 0 then a + full.Length else a)
                let st = strides full
                let key i = [ for d in 0 .. full.Length - 1 -> if Array.contains d tensorAxes then -1 else (i / st.[d]) % full.[d] ]
                let sums = xs |> Array.mapi (fun i v -> key i, exp (float v)) |> Array.groupBy fst |> Map.ofArray |> Map.map (fun _ g -> g |> Array.sumBy snd)
                let expected = xs |> Array.mapi (fun i v -> exp (float v) / sums.[key i])
                Expect.isTrue (close 1e-5 ys expected) (sprintf "axes %A" axes)
        }

        testSequenced <| test "after a channels_last convolution, Softmax and PReLU act on the logical channel axis; elementwise layers stay in place" {
            torchReady 46
            let input = Input(5, 5, 2)
            use convOnly = BuiltNetwork.Build(Sequential(input, Conv2D(3, 1, Name = "c")))
            for layer in [ Softmax() :> Layer; PReLU(alphaInitializer = "ones", sharedAxes = IntTuple(1, 2)); ReLU(Nullable 0.3, 0.1, 0.2); ELU(0.5) ] do
                use built = BuiltNetwork.Build(Sequential(input, Conv2D(3, 1, Name = "c"), layer, Conv2D(2, 1, Name = "d")))
                use headless = BuiltNetwork.Build(Sequential(input, Conv2D(3, 1, Name = "c"), layer))
                for w in [ "c/kernel"; "c/bias" ] do
                    use _ = torch.no_grad()
                    (weight convOnly w).Parameter.copy_((weight built w).Parameter) |> ignore
                    (weight headless w).Parameter.copy_((weight built w).Parameter) |> ignore
                if layer :? PReLU then setWeight headless "p_re_lu/alpha" [| 0.1f; 0.5f; 0.9f |]
                use x = torch.randn(2L, 5L, 5L, 2L)
                use h = convOnly.forward x
                use y = headless.forward x
                let hs = values h
                let expected =
                    match layer with
                    | :? Softmax ->
                        hs |> Array.mapi (fun i v -> let row = hs.[i / 3 * 3 .. i / 3 * 3 + 2] in exp (float v) / (row |> Array.sumBy (float >> exp)))
                    | :? PReLU -> hs |> Array.mapi (fun i v -> let x = float v in if x > 0.0 then x else [| 0.1; 0.5; 0.9 |].[i % 3] * x)
                    | :? ReLU -> hs |> Array.map (fun v -> naiveRelu (Some 0.3) 0.1 0.2 (float v))
                    | _ -> hs |> Array.map (fun v -> let x = float v in if x > 0.0 then x else 0.5 * (exp x - 1.0))
                Expect.isTrue (close 1e-5 (values y) expected) layer.ClassName
                use z = built.forward x   // and a convolution after it still runs
                Expect.equal z.shape [| 2L; 5L; 5L; 2L |] "conv after it"
        }
    ]
