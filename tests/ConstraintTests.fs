/// Keras's constraints: defaults, identifiers and validation; Keras's formulas (ε = 1e-7 added to the norm in the
/// denominator) against a naive implementation on Keras-layout tensors; and a built model applying them along Keras's axes.
module Functional.Tests.ConstraintTests

open System
open System.Collections.Generic
open Expecto
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

/// Each element's slice norm: √Σ x² over `axes` (the other indices fixed), for a row-major array of shape `dims`.
let naiveNorms (dims: int[]) (axes: int list) (xs: float[]) =
    let rank = dims.Length
    let axes = axes |> List.map (fun a -> if a < 0 then a + rank else a) |> Set.ofList
    let key (i: int) =
        // The multi-index with the reduced axes zeroed, as a string.
        let idx = Array.zeroCreate rank
        let mutable rest = i
        for d in rank - 1 .. -1 .. 0 do
            idx.[d] <- rest % dims.[d]
            rest <- rest / dims.[d]
        String.Join(",", idx |> Array.mapi (fun d v -> if axes.Contains d then 0 else v))
    let sums = Dictionary<string, float>()
    xs |> Array.iteri (fun i x -> let k = key i in sums.[k] <- (match sums.TryGetValue k with | true, s -> s | _ -> 0.0) + x * x)
    Array.init xs.Length (fun i -> sqrt sums.[key i])

let eps = 1e-7

/// Keras's constraint formulas, written out again.
let naiveConstraint (c: Constraint) (dims: int[]) (xs: float[]) =
    let clip lo hi v = min hi (max lo v)
    match c with
    | :? NonNeg -> xs |> Array.map (max 0.0)
    | :? MaxNorm as m ->
        let n = naiveNorms dims (List.ofSeq m.Axis) xs
        Array.map2 (fun x n -> x * (clip 0.0 m.MaxValue n / (eps + n))) xs n
    | :? UnitNorm as u ->
        let n = naiveNorms dims (List.ofSeq u.Axis) xs
        Array.map2 (fun x n -> x / (eps + n)) xs n
    | :? MinMaxNorm as m ->
        let n = naiveNorms dims (List.ofSeq m.Axis) xs
        Array.map2 (fun x n -> x * ((m.Rate * clip m.MinValue m.MaxValue n + (1.0 - m.Rate) * n) / (eps + n))) xs n
    | _ -> failwithf "no naive form for %s" c.ClassName

[<Tests>]
let pureTests =
    testList "Constraints" [
        test "defaults are Keras's: MaxNorm(2, axis 0), UnitNorm(axis 0), MinMaxNorm(0, 1, rate 1, axis 0)" {
            let m = MaxNorm()
            Expect.equal (m.MaxValue, m.Axis) (2.0, IntTuple 0) "MaxNorm"
            Expect.equal (UnitNorm().Axis) (IntTuple 0) "UnitNorm"
            let mm = MinMaxNorm()
            Expect.equal (mm.MinValue, mm.MaxValue, mm.Rate, mm.Axis) (0.0, 1.0, 1.0, IntTuple 0) "MinMaxNorm"
            Expect.equal (MaxNorm(3.0, IntTuple [| 0; 1; 2 |]).Axis) (IntTuple [| 0; 1; 2 |]) "a tuple of axes"
        }

        test "identifiers: snake case and class names" {
            for name, expected in [ "max_norm", MaxNorm() :> Constraint; "MaxNorm", MaxNorm(); "non_neg", NonNeg(); "NonNeg", NonNeg()
                                    "unit_norm", UnitNorm(); "UnitNorm", UnitNorm(); "min_max_norm", MinMaxNorm(); "MinMaxNorm", MinMaxNorm() ] do
                Expect.equal (Constraint.Get name) expected name
            Expect.equal (Dense(3, kernelConstraint = "non_neg").KernelConstraint) (NonNeg() :> Constraint) "implicit from a string"
            throwsWith<ArgumentException> [ "Could not interpret constraint identifier"; "'typo'" ] (fun () -> Constraint.Get "typo" |> ignore)
        }

        test "arguments are validated, naming the constraint, the argument and the value" {
            throwsWith<ArgumentException> [ "MaxNorm"; "'maxValue'"; "maxValue=-1" ] (fun () -> MaxNorm(-1.0) |> ignore)
            throwsWith<ArgumentException> [ "MinMaxNorm"; "minValue=2"; "maxValue=1" ] (fun () -> MinMaxNorm(2.0, 1.0) |> ignore)
            throwsWith<ArgumentException> [ "MinMaxNorm"; "'rate'"; "rate=1.5" ] (fun () -> MinMaxNorm(rate = 1.5) |> ignore)
            throwsWith<ArgumentException> [ "MinMaxNorm"; "minValue=NaN" ] (fun () -> MinMaxNorm(nan) |> ignore)
            throwsWith<ArgumentException> [ "UnitNorm"; "axis 3 is out of range for a weight of rank 2" ] (fun () -> UnitNorm(IntTuple 3).ResolveAxes(IntTuple 3, 2) |> ignore)
            throwsWith<ArgumentException> [ "MaxNorm"; "axis -1 is repeated" ] (fun () -> MaxNorm().ResolveAxes(IntTuple [| 1; -1 |], 2) |> ignore)
            Expect.sequenceEqual (MaxNorm().ResolveAxes(IntTuple [| -1; 0 |], 4)) [| 3; 0 |] "negative axes count from the end"
        }
    ]

let private cases : (Constraint * int[]) list =
    [ MaxNorm(), [| 4; 6 |]
      MaxNorm(0.5, IntTuple 1), [| 4; 6 |]
      MaxNorm(1.0, IntTuple [| 0; 1; 2 |]), [| 3; 3; 2; 5 |]
      UnitNorm(), [| 5; 3 |]
      UnitNorm(IntTuple(-1)), [| 3; 4; 5 |]
      UnitNorm(IntTuple [| 0; 2 |]), [| 3; 4; 5 |]
      MinMaxNorm(), [| 4; 6 |]
      MinMaxNorm(1.5, 2.0, 0.3, IntTuple 1), [| 4; 6 |]
      MinMaxNorm(0.2, 0.4, 1.0, IntTuple [| 0; 1 |]), [| 2; 3; 4 |]
      NonNeg(), [| 3; 3; 2; 2 |] ]

[<Tests>]
let torchTests =
    testSequenced <| testList "Constraints (tensors and models)" [
        test "each constraint equals Keras's formula on a Keras-layout tensor, along the given axes (float64, to 1e-12)" {
            torchReady 1
            for c, dims in cases do
                use w = torch.randn(dims |> Array.map int64, dtype = torch.ScalarType.Float64) * 1.7
                let before = floats w
                ConstraintOps.Apply(c, w)
                let expected = naiveConstraint c dims before
                let ok = Array.forall2 (fun (a: float) b -> abs (a - b) <= 1e-12 * (1.0 + abs b)) (floats w) expected
                Expect.isTrue ok (sprintf "%A on %A" c dims)
        }

        test "ε is added to the norm in the denominator, as Keras: MaxNorm(2) maps (3, 4) to (3, 4)·2/(5 + 1e-7)" {
            torchReady 2
            use w = torch.tensor([| 3.0; 4.0 |])
            ConstraintOps.Apply(MaxNorm(2.0), w)
            let f = 2.0 / (5.0 + 1e-7)
            Expect.isTrue (Array.forall2 (fun (a: float) b -> abs (a - b) < 1e-15) (floats w) [| 3.0 * f; 4.0 * f |]) "MaxNorm"
            use u = torch.tensor([| 3.0; 4.0 |])
            ConstraintOps.Apply(UnitNorm(), u)
            Expect.isTrue (Array.forall2 (fun (a: float) b -> abs (a - b) < 1e-15) (floats u) [| 3.0 / (5.0 + 1e-7); 4.0 / (5.0 + 1e-7) |]) "UnitNorm"
            use z = torch.zeros(3L, 2L, dtype = torch.ScalarType.Float64)
            ConstraintOps.Apply(UnitNorm(), z)
            Expect.allEqual (floats z) 0.0 "a zero slice stays zero"
        }

        test "ApplyConstraints applies Dense and Conv2D constraints along Keras's axes of the Keras-layout weights; frozen and unconstrained weights stay" {
            torchReady 3
            let model =
                Sequential(
                    Input(5, 5, 2),
                    Conv2D(3, 2, kernelInitializer = RandomNormal(0.0, 1.0, seed = 1), kernelConstraint = UnitNorm(IntTuple [| 0; 1; 2 |]),
                           biasInitializer = RandomNormal(0.0, 1.0, seed = 2), biasConstraint = NonNeg()),
                    Conv2D(2, 2, kernelInitializer = RandomNormal(0.0, 1.0, seed = 3), kernelConstraint = MaxNorm(0.3)),
                    Flatten(),
                    Dense(4, kernelInitializer = RandomNormal(0.0, 1.0, seed = 4), kernelConstraint = MaxNorm(0.5)),
                    Dense(3, kernelInitializer = RandomNormal(0.0, 1.0, seed = 5), kernelConstraint = MinMaxNorm(1.5, 2.0, 0.5, IntTuple 1)),
                    Dense(2, kernelInitializer = RandomNormal(-1.0, 1.0, seed = 6), kernelConstraint = NonNeg(), Trainable = false))
            use built = BuiltNetwork.Build(model)
            let snapshot () =
                built.Weights |> Seq.map (fun w -> use v = w.KerasView() in w.Name, (v.shape |> Array.map int, floats v)) |> Map.ofSeq
            let before = snapshot ()
            built.ApplyConstraints()
            let after = snapshot ()
            for w in built.Weights do
                let dims, b = before.[w.Name]
                let _, a = after.[w.Name]
                let expected = if isNull w.Constraint || not w.Trainable then b else naiveConstraint w.Constraint dims b
                let ok = Array.forall2 (fun (x: float) y -> abs (x - y) <= 1e-6 * (1.0 + abs y)) a expected
                Expect.isTrue ok (sprintf "%s (%A)" w.Name w.Constraint)
            // What the axes mean in Keras: a whole Conv2D filter (kh, kw, in) per output channel; a Dense unit's input weights.
            let _, conv = after.["conv2d/kernel"]
            for k in 0 .. 2 do
                let filter = conv |> Array.indexed |> Array.filter (fun (i, _) -> i % 3 = k) |> Array.sumBy (fun (_, v) -> v * v)
                Expect.floatClose Accuracy.medium (sqrt filter) 1.0 (sprintf "filter %d has unit norm" k)
            let _, dense = after.["dense/kernel"]
            for u in 0 .. 3 do
                let col = dense |> Array.indexed |> Array.filter (fun (i, _) -> i % 4 = u) |> Array.sumBy (fun (_, v) -> v * v)
                Expect.isLessThanOrEqual (sqrt col) (0.5 + 1e-6) (sprintf "unit %d's incoming weights are within 0.5" u)
            Expect.isTrue (snd after.["conv2d/bias"] |> Array.forall (fun v -> v >= 0.0)) "bias made non-negative"
            Expect.isTrue (snd before.["dense_2/kernel"] |> Array.exists (fun v -> v < 0.0)) "the frozen kernel has negatives (and keeps them)"
        }

        test "a training step applies the constraints after the update" {
            torchReady 4
            use built = BuiltNetwork.Build(Sequential(Input(3), Dense(2, kernelConstraint = NonNeg(), kernelInitializer = RandomNormal(0.0, 1.0, seed = 1))))
            use opt = torch.optim.SGD(built.TrainableParameters, 0.1)
            use x = torch.randn(4L, 3L)
            use y = torch.randn(4L, 2L)
            built.TrainStep(x, y, (fun p t -> torch.nn.functional.mse_loss(p, t)), opt) |> ignore
            let k = built.Weights |> Seq.head
            Expect.isTrue (floats k.Parameter |> Array.forall (fun v -> v >= 0.0)) "non-negative after the step"
        }

        test "an axis the weight does not have is a clear error when constraints are applied" {
            torchReady 5
            use built = BuiltNetwork.Build(Sequential(Input(3), Dense(2, kernelConstraint = MaxNorm(axis = IntTuple 2))))
            throwsWith<ArgumentException> [ "MaxNorm"; "axis 2 is out of range for a weight of rank 2" ] (fun () -> built.ApplyConstraints())
        }
    ]
