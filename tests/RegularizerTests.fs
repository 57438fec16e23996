/// Keras's regularizers: penalties against naive formulas and Keras's docstring examples, identifiers and validation;
/// the tensor form; and what a built model adds to the loss (kernel, bias and activity penalties, frozen layers).
module Functional.Tests.RegularizerTests

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
open Functional.Tests.InitializerTests

/// Keras's test formula for OrthogonalRegularizer: normalise rows (columns), |Gram| off the diagonal, factor · ½ · sum / pairs.
let naiveOrthogonal (factor: float) (mode: string) (rows: int) (cols: int) (xs: float[]) =
    let at r c = xs.[r * cols + c]
    let vectors =
        if mode = "rows" then Array.init rows (fun r -> Array.init cols (at r))
        else Array.init cols (fun c -> Array.init rows (fun r -> at r c))
    let unit = vectors |> Array.map (fun v -> let n = sqrt (Array.sumBy (fun x -> x * x) v) in v |> Array.map (fun x -> x / n))
    let n = unit.Length
    let total =
        seq { for i in 0 .. n - 1 do for j in 0 .. n - 1 do if i <> j then yield abs (Array.fold2 (fun acc a b -> acc + a * b) 0.0 unit.[i] unit.[j]) }
        |> Seq.sum
    factor * 0.5 * total / (float n * (float n - 1.0) / 2.0)

let naiveL1L2 l1 l2 (xs: float seq) = xs |> Seq.sumBy (fun x -> l1 * abs x + l2 * x * x)

let private valuesGen = Gen.listOf (Gen.choose (-1000, 1000) |> Gen.map (fun i -> float i / 37.0))
let private factorGen = Gen.choose (0, 1000) |> Gen.map (fun i -> float i / 997.0)

[<Tests>]
let pureTests =
    testList "Regularizers" [
        propertyWith pureConfig "L1, L2 and L1L2 penalties are l1·Σ|x| + l2·Σx² (no ½)"
            (Arb.fromGen (Gen.zip3 valuesGen factorGen factorGen)) (fun (xs, a, b) ->
                let close (x: float) y = abs (x - y) <= 1e-9 * (1.0 + abs y)
                close (L1(a).Penalty xs) (naiveL1L2 a 0.0 xs)
                && close (L2(b).Penalty xs) (naiveL1L2 0.0 b xs)
                && close (L1L2(a, b).Penalty xs) (naiveL1L2 a b xs))

        test "Keras's docstring examples: L2(2.0) on ones(5, 5) is 50; L1(0.01) on a ones (5, 5) kernel is 0.25" {
            Expect.floatClose Accuracy.veryHigh (L2(2.0).Penalty(Array.create 25 1.0)) 50.0 "L2"
            Expect.floatClose Accuracy.veryHigh (L1(0.01).Penalty(Array.create 25 1.0)) 0.25 "L1"
            Expect.floatClose Accuracy.veryHigh (L1L2(0.1, 0.2).Penalty([| -1.0; 2.0 |])) (0.1 * 3.0 + 0.2 * 5.0) "L1L2"
        }

        test "defaults and identifiers are Keras 3's (l1l2 is L1L2() with zero factors; l1_l2 keeps the documented 0.01s)" {
            Expect.equal (L1().Factor) 0.01 "L1 default"
            Expect.equal (L2().Factor) 0.01 "L2 default"
            Expect.equal (L1L2().L1Factor, L1L2().L2Factor) (0.0, 0.0) "L1L2 defaults"
            Expect.equal (OrthogonalRegularizer().Factor, OrthogonalRegularizer().Mode) (0.01, "rows") "OrthogonalRegularizer defaults"
            for name, expected in [ "l1", L1() :> Regularizer; "L1", L1(); "l2", L2(); "L2", L2(); "l1l2", L1L2(); "L1L2", L1L2()
                                    "l1_l2", L1L2(0.01, 0.01); "orthogonal_regularizer", OrthogonalRegularizer(); "OrthogonalRegularizer", OrthogonalRegularizer() ] do
                Expect.equal (Regularizer.Get name) expected name
            Expect.equal (Dense(3, kernelRegularizer = "l2").KernelRegularizer) (L2() :> Regularizer) "implicit from a string"
            throwsWith<ArgumentException> [ "Could not interpret regularizer identifier"; "'typo'" ] (fun () -> Regularizer.Get "typo" |> ignore)
        }

        test "factors are validated as Keras's validate_float_arg: non-negative, finite" {
            throwsWith<ArgumentException> [ "L1"; "Invalid value for argument l1: expected a non-negative float"; "l1=-1" ] (fun () -> L1(-1.0) |> ignore)
            throwsWith<ArgumentException> [ "l2=NaN" ] (fun () -> L2(nan) |> ignore)
            throwsWith<ArgumentException> [ "L1L2"; "l2=-0.001" ] (fun () -> L1L2(0.1, -0.001) |> ignore)
            throwsWith<ArgumentException> [ "l1=Infinity" ] (fun () -> L1L2(infinity) |> ignore)
            throwsWith<ArgumentException> [ "factor=-0.5" ] (fun () -> OrthogonalRegularizer(-0.5) |> ignore)
            Expect.equal (L1(0.0).Penalty([| 3.0 |])) 0.0 "zero is allowed"
        }

        test "OrthogonalRegularizer validates its mode and the weight's rank with Keras's messages" {
            throwsWith<ArgumentException> [ "Invalid value for argument `mode`. Expected one of {\"rows\", \"columns\"}. Received: mode=invalid_mode" ] (fun () ->
                OrthogonalRegularizer(0.01, "invalid_mode") |> ignore)
            throwsWith<ArgumentException> [ "Inputs to OrthogonalRegularizer must have rank 2. Received: inputs.shape=(4, 4, 4)" ] (fun () ->
                OrthogonalRegularizer(0.1).Penalty(Array.zeroCreate 64, [| 4; 4; 4 |]) |> ignore)
            throwsWith<ArgumentException> [ "needs the weight's shape" ] (fun () -> OrthogonalRegularizer().Penalty(Seq.empty<float>) |> ignore)
        }

        propertyWith pureConfig "OrthogonalRegularizer equals Keras's test formula, rows and columns"
            (Arb.fromGen (gen {
                let! rows = Gen.choose (2, 7)
                let! cols = Gen.choose (2, 7)
                let! xs = Gen.arrayOfLength (rows * cols) (Gen.choose (1, 1000) |> Gen.map (fun i -> float i / 100.0))
                let! mode = Gen.elements [ "rows"; "columns" ]
                return rows, cols, xs, mode })) (fun (rows, cols, xs, mode) ->
                let p = OrthogonalRegularizer(0.1, mode).Penalty(xs, [| rows; cols |])
                abs (p - naiveOrthogonal 0.1 mode rows cols xs) <= 1e-12)

        test "OrthogonalRegularizer is 0 on orthonormal rows and factor/2·… on identical ones" {
            let eye = Array.init 9 (fun i -> if i % 4 = 0 then 1.0 else 0.0)
            Expect.equal (OrthogonalRegularizer(1.0).Penalty(eye, [| 3; 3 |])) 0.0 "orthonormal"
            // Three equal rows: every off-diagonal cosine is 1; 6 of them over 3 pairs, times ½: the factor itself.
            Expect.floatClose Accuracy.veryHigh (OrthogonalRegularizer(0.3).Penalty(Array.create 6 2.0, [| 3; 2 |])) 0.3 "parallel rows"
        }
    ]

let private penaltyOf (r: Regularizer) (t: torch.Tensor) =
    use p = RegularizerOps.Penalty(r, t)
    float (p.to_type(torch.ScalarType.Float64).item<float>())

[<Tests>]
let torchTests =
    testSequenced <| testList "Regularizers (tensors and models)" [
        test "the tensor penalties equal the pure ones" {
            torchReady 1
            use x = torch.randn(7L, 5L, dtype = torch.ScalarType.Float64)
            let xs = floats x
            for r in [ L1(0.3) :> Regularizer; L2(0.2); L1L2(0.01, 0.05); L1L2() ] do
                Expect.floatClose Accuracy.veryHigh (penaltyOf r x) (r.Penalty xs) (string r)
            for mode in [ "rows"; "columns" ] do
                let r = OrthogonalRegularizer(0.1, mode)
                Expect.floatClose Accuracy.veryHigh (penaltyOf r x) (r.Penalty(xs, [| 7; 5 |])) mode
            use cube = torch.ones(4L, 4L, 4L)
            throwsWith<ArgumentException> [ "must have rank 2"; "(4, 4, 4)" ] (fun () -> RegularizerOps.Penalty(OrthogonalRegularizer(), cube) |> ignore)
        }

        test "RegularizationLoss sums every trainable kernel and bias penalty on the Keras-layout weights; a frozen layer adds nothing" {
            torchReady 2
            let model (frozen: bool) =
                Sequential(
                    Input(6, 6, 2),
                    Conv2D(3, 3, kernelRegularizer = L2(0.01), biasRegularizer = L1(0.1), biasInitializer = RandomNormal(seed = 1)),
                    Flatten(),
                    Dense(4, kernelRegularizer = L1L2(0.01, 0.02), biasRegularizer = "l2", biasInitializer = RandomUniform(seed = 2)),
                    Dense(2, kernelRegularizer = L2(5.0), Trainable = not frozen))
            use built = BuiltNetwork.Build(model true)
            let expected =
                built.Weights
                |> Seq.filter (fun w -> w.Trainable && not (isNull w.Regularizer))
                |> Seq.sumBy (fun w -> use v = w.KerasView() in w.Regularizer.Penalty(floats v))
            use loss = built.RegularizationLoss()
            let actual = float (loss.item<float32>())
            Expect.isTrue (closeRel 1e-5 expected actual) (sprintf "loss %g, expected %g" actual expected)
            let names = built.Weights |> Seq.filter (fun w -> w.Trainable && not (isNull w.Regularizer)) |> Seq.map (fun w -> w.Name) |> List.ofSeq
            Expect.equal names [ "conv2d/kernel"; "conv2d/bias"; "dense/kernel"; "dense/bias" ] "the penalised weights"
            // The frozen kernel would add a clearly non-zero penalty if it were trainable.
            let frozenKernel = built.Weights |> Seq.find (fun w -> w.Name = "dense_1/kernel")
            use fk = frozenKernel.KerasView()
            Expect.isGreaterThan (frozenKernel.Regularizer.Penalty(floats fk)) 0.1 "frozen kernel penalty"
            Expect.isFalse frozenKernel.Trainable "frozen"
            use trainable = BuiltNetwork.Build(model false)
            use all = trainable.RegularizationLoss()
            let allExpected = trainable.Weights |> Seq.filter (fun w -> not (isNull w.Regularizer)) |> Seq.sumBy (fun w -> use v = w.KerasView() in w.Regularizer.Penalty(floats v))
            Expect.isTrue (closeRel 1e-5 allExpected (float (all.item<float32>()))) "trainable: every penalty"
        }

        test "Keras's Regularizer docstring: Dense(5, ones kernel, L1(0.01) kernel, L2(0.01) activity) on ones(5, 5)·2 gives 5.25" {
            torchReady 3
            let model = Sequential(Input(5), Dense(5, kernelInitializer = "ones", kernelRegularizer = L1(0.01), activityRegularizer = L2(0.01)))
            use built = BuiltNetwork.Build(model)
            built.train()
            use x = torch.ones(5L, 5L) * 2.0f
            use _ = built.forward x
            use loss = built.RegularizationLoss()
            // Kernel: 0.01 · 25 = 0.25. Activity: 0.01 · 25 · 10² / batch 5 = 5.
            Expect.floatClose Accuracy.medium (float (loss.item<float32>())) 5.25 "kernel + activity"
            use again = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (again.item<float32>())) 0.25 "activity penalties are consumed"
            built.eval()
            use _ = built.forward x
            use inference = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (inference.item<float32>())) 0.25 "no activity penalty outside training"
            built.train()
            use empty = torch.zeros(0L, 5L)
            use _ = built.forward empty
            use e = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (e.item<float32>())) 0.25 "an empty batch adds 0, not NaN (Keras's divide_no_nan)"
        }

        test "OrthogonalRegularizer on a Dense kernel sees Keras's (in, units) layout" {
            torchReady 4
            let r = OrthogonalRegularizer(0.1, "rows")
            use built = BuiltNetwork.Build(Sequential(Input(5), Dense(3, kernelRegularizer = r, useBias = false)))
            let k = built.Weights |> Seq.head
            use kv = k.KerasView()
            let keras = r.Penalty(floats kv, [| 5; 3 |])
            let torchLayout = r.Penalty(floats k.Parameter, [| 3; 5 |])
            use loss = built.RegularizationLoss()
            Expect.isTrue (closeRel 1e-5 keras (float (loss.item<float32>()))) "rows of the (5, 3) kernel"
            Expect.isGreaterThan (abs (keras - torchLayout)) 1e-4 "the PyTorch layout would give another value"
        }
    ]
