/// Reshape, Permute, RepeatVector, ActivityRegularization, Masking and Lambda: shape laws, construction errors, and built
/// modules against naive references.
module Functional.Tests.CoreExtraTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Torch.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

/// Row-major values of a tensor.
let values (t: torch.Tensor) = t.contiguous().cpu().data<float32>().ToArray()

/// Row-major strides of a shape.
let strides (dims: int[]) =
    let s = Array.create dims.Length 1
    for i in dims.Length - 2 .. -1 .. 0 do s.[i] <- s.[i + 1] * dims.[i + 1]
    s

/// Naive transpose of a row-major array: output axis i is input axis perm[i].
let naivePermute (xs: float32[]) (dims: int[]) (perm: int[]) =
    let outDims = perm |> Array.map (fun p -> dims.[p])
    let inStrides, outStrides = strides dims, strides outDims
    Array.init xs.Length (fun flat ->
        let mutable src = 0
        for i in 0 .. perm.Length - 1 do
            let oi = (flat / outStrides.[i]) % outDims.[i]
            src <- src + oi * inStrides.[perm.[i]]
        xs.[src])

/// A per-sample shape and a target for it: a regrouping of its size with (maybe) one entry replaced by -1.
let reshapeCase =
    gen {
        let! dims = Gen.listOfLength 3 (Gen.choose (1, 6)) |> Gen.map Array.ofList
        let! rank = Gen.choose (1, 3)
        let input = dims.[0 .. rank - 1]
        // A target from a random split of the prime factors of the size.
        let size = Array.reduce (*) input
        let rec factors n p = if n = 1 then [] elif n % p = 0 then p :: factors (n / p) p else factors n (p + 1)
        let fs = factors size 2
        let! buckets = Gen.choose (1, 4)
        let! assign = Gen.listOfLength fs.Length (Gen.choose (0, buckets - 1))
        let target = Array.init buckets (fun b -> List.zip fs assign |> List.filter (fun (_, a) -> a = b) |> List.fold (fun acc (f, _) -> acc * f) 1)
        let! unknown = Gen.choose (-1, buckets - 1)
        let given = target |> Array.mapi (fun i d -> if i = unknown then -1 else d)
        return input, given, target
    }

let permuteCase =
    gen {
        let! rank = Gen.choose (1, 4)
        let! dims = Gen.listOfLength rank (Gen.choose (1, 5)) |> Gen.map Array.ofList
        let! keys = Gen.listOfLength rank (Gen.choose (0, 1000))
        let perm = List.zip [ 1 .. rank ] keys |> List.sortBy snd |> List.map fst |> Array.ofList
        return dims, perm
    }

let fn (f: torch.Tensor -> torch.Tensor) = Func<torch.Tensor, torch.Tensor>(f)

[<Tests>]
let tests =
    testList "Core extras" [
        propertyWith pureConfig "Reshape keeps the size and infers the -1 entry" (Arb.fromGen reshapeCase) (fun (input, given, target) ->
            Reshape(IntTuple given).ComputeOutputShape(Shape input) = Shape target)

        test "Reshape: Keras's own examples and tests" {
            Expect.equal (Reshape(IntTuple(3, 4)).ComputeOutputShape(Shape 12)) (Shape(3, 4)) "(12,) → (3, 4)"
            Expect.equal (Reshape(IntTuple(-1, 2, 2)).ComputeOutputShape(Shape 12)) (Shape(3, 2, 2)) "(12,) → (-1, 2, 2)"
            Expect.equal (Reshape(IntTuple(8, 1)).ComputeOutputShape(Shape(2, 4))) (Shape(8, 1)) "(2, 4) → (8, 1)"
            Expect.equal (Reshape(IntTuple 8).ComputeOutputShape(Shape(2, 4))) (Shape 8) "(2, 4) → (8,)"
            Expect.equal (Reshape(IntTuple(1, -1)).ComputeOutputShape(Shape(2, 4))) (Shape(1, 8)) "(2, 4) → (1, 8)"
            Expect.equal (Reshape(IntTuple(-1, 8)).ComputeOutputShape(Shape(6, 4))) (Shape(3, 8)) "(6, 4) → (3, 8)"
            Expect.equal (Reshape(IntTuple(2, 4)).ParameterCount(Shape 8)) 0L "no parameters"
        }

        test "Reshape rejects bad targets at construction and size mismatches at shape inference, as Keras does" {
            throwsWith<ArgumentException> [ "Reshape"; "more than one -1"; "(-1, -1)" ] (fun () -> Reshape(IntTuple(-1, -1)) |> ignore)
            throwsWith<ArgumentException> [ "Reshape"; "non-negative integer"; "(3, -2)" ] (fun () -> Reshape(IntTuple(3, -2)) |> ignore)
            throwsWith<ShapeException> [ "Reshape"; "(None, 12)"; "total size of the tensor must be unchanged"; "target_shape=(5, 2)" ] (fun () ->
                Reshape(IntTuple(5, 2)).ComputeOutputShape(Shape 12) |> ignore)
            throwsWith<ShapeException> [ "Reshape"; "cannot be divided"; "target_shape=(5, -1)" ] (fun () ->
                Reshape(IntTuple(5, -1)).ComputeOutputShape(Shape 12) |> ignore)
            throwsWith<ShapeException> [ "Reshape"; "total size" ] (fun () -> Reshape(IntTuple(0, -1)).ComputeOutputShape(Shape 12) |> ignore)
            throwsWith<ShapeException> [ "reshape"; "(None, 12)" ] (fun () -> Sequential(Input(12), Reshape(IntTuple(5, 3))) |> ignore)
        }

        propertyWith pureConfig "Permute: output axis i is input axis dims[i] (1-based)" (Arb.fromGen permuteCase) (fun (dims, perm) ->
            Permute(IntTuple perm).ComputeOutputShape(Shape dims) = Shape(perm |> Array.map (fun p -> dims.[p - 1])))

        test "Permute: Keras's example and its errors" {
            Expect.equal (Permute(IntTuple(2, 1)).ComputeOutputShape(Shape(10, 64))) (Shape(64, 10)) "(10, 64) → (64, 10)"
            throwsWith<ArgumentException> [ "Permute"; "consecutive and start from 1"; "dims=(0, 1)" ] (fun () -> Permute(IntTuple(0, 1)) |> ignore)
            throwsWith<ArgumentException> [ "Permute"; "dims=(1, 3)" ] (fun () -> Permute(IntTuple(1, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Permute"; "dims=(1, 1)" ] (fun () -> Permute(IntTuple(1, 1)) |> ignore)
            throwsWith<ShapeException> [ "Permute"; "(None, 10, 64)"; "rank 3" ] (fun () ->
                Permute(IntTuple(2, 1, 3)).ComputeOutputShape(Shape(10, 64)) |> ignore)
        }

        test "RepeatVector: (features) → (n, features); rejects n < 1 and inputs that are not vectors" {
            Expect.equal (RepeatVector(3).ComputeOutputShape(Shape 32)) (Shape(3, 32)) "Keras's example"
            throwsWith<ArgumentException> [ "RepeatVector"; "n=0" ] (fun () -> RepeatVector(0) |> ignore)
            throwsWith<ShapeException> [ "RepeatVector"; "(None, 2, 3)"; "rank 1" ] (fun () -> RepeatVector(2).ComputeOutputShape(Shape(2, 3)) |> ignore)
        }

        test "ActivityRegularization is the identity in shape, has no weights, and its penalty is an L1L2 activity regularizer" {
            let layer = ActivityRegularization(0.1, 0.2)
            Expect.equal (layer.ComputeOutputShape(Shape(4, 5))) (Shape(4, 5)) "shape"
            Expect.equal (layer.ParameterCount(Shape(4, 5))) 0L "no params"
            Expect.equal layer.ActivityRegularizer (L1L2(0.1, 0.2) :> Regularizer) "l1/l2 become the activity regularizer"
            Expect.equal (ActivityRegularization().ActivityRegularizer) (L1L2(0.0, 0.0) :> Regularizer) "Keras defaults 0, 0"
            throwsWith<ArgumentException> [ "ActivityRegularization"; "l1=-1" ] (fun () -> ActivityRegularization(-1.0) |> ignore)
            throwsWith<ArgumentException> [ "ActivityRegularization"; "l2=NaN" ] (fun () -> ActivityRegularization(0.0, nan) |> ignore)
        }

        test "Masking keeps the shape; Lambda with a declared shape or a shape function uses it" {
            Expect.equal (Masking().ComputeOutputShape(Shape(7, 3))) (Shape(7, 3)) "masking"
            let f = fn (fun x -> x)
            Expect.equal (Lambda(f, Shape(3, 2)).ComputeOutputShape(Shape 6)) (Shape(3, 2)) "declared"
            Expect.equal (Lambda(f, Func<Shape, Shape>(fun s -> Shape(s.Known(0) * 2))).ComputeOutputShape(Shape 6)) (Shape 12) "function"
        }

        test "Lambda records compare by function reference" {
            let f = fn (fun x -> x.relu())
            let g = fn (fun x -> x.relu())
            Expect.equal (Lambda(f)) (Lambda(f)) "same function object: equal"
            Expect.equal ((Lambda(f)).GetHashCode()) ((Lambda(f)).GetHashCode()) "and equal hashes"
            Expect.notEqual (Lambda(f)) (Lambda(g)) "another function object computing the same: different"
            Expect.notEqual (Lambda(f, Shape 3)) (Lambda(f, Shape 4)) "different declared shapes: different"
        }

        testSequenced <| test "Lambda infers its output shape by running the function on a dummy batch; failures are clear" {
            torchReady 21
            Expect.equal (Lambda(fn (fun x -> x.reshape(x.shape.[0], -1L))).ComputeOutputShape(Shape(3, 4))) (Shape 12) "inferred"
            Expect.equal (Lambda(fn (fun x -> x.sum(1L))).ComputeOutputShape(Shape(3, 4))) (Shape 4) "inferred reduction"
            throwsWith<ShapeException> [ "Lambda"; "batch dimension" ] (fun () ->
                Lambda(fn (fun x -> x.sum())).ComputeOutputShape(Shape 3) |> ignore)
            throwsWith<ShapeException> [ "Lambda"; "could not infer"; "outputShape" ] (fun () ->
                Lambda(fn (fun _ -> failwith "boom")).ComputeOutputShape(Shape 3) |> ignore)
        }

        testSequenced <| propertyWith torchConfig "built Reshape: real forward shape = inferred, values keep row-major order" (Arb.fromGen reshapeCase) (fun (input, given, _) ->
            torchReady 22
            let model = Sequential(Input(input), Reshape(IntTuple given))
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(Shape(input).WithBatch(2L))
            use y = built.forward x
            y.shape = model.OutputShape.WithBatch(2L) && values y = values x)

        testSequenced <| propertyWith torchConfig "built Permute matches a naive transpose" (Arb.fromGen permuteCase) (fun (dims, perm) ->
            torchReady 23
            let model = Sequential(Input(dims), Permute(IntTuple perm))
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(Shape(dims).WithBatch(2L))
            use y = built.forward x
            let full = Array.append [| 2 |] dims
            y.shape = model.OutputShape.WithBatch(2L) && values y = naivePermute (values x) full (Array.append [| 0 |] perm))

        testSequenced <| test "built RepeatVector copies each sample's vector n times" {
            torchReady 24
            use built = BuiltNetwork.Build(Sequential(Input(5), RepeatVector(3)))
            use x = torch.randn(4L, 5L)
            use y = built.forward x
            Expect.equal y.shape [| 4L; 3L; 5L |] "shape"
            let xs, ys = values x, values y
            for b in 0 .. 3 do
                for i in 0 .. 2 do
                    for f in 0 .. 4 do
                        Expect.equal ys.[(b * 3 + i) * 5 + f] xs.[b * 5 + f] "copied"
        }

        testSequenced <| test "built ActivityRegularization: identity; RegularizationLoss = (l1·Σ|y| + l2·Σy²)/batch after a training pass, 0 at inference" {
            torchReady 25
            use built = BuiltNetwork.Build(Sequential(Input(3, 4), ActivityRegularization(0.1, 0.2)))
            use x = torch.randn(5L, 3L, 4L)
            let xs = values x
            let expected = (xs |> Array.sumBy (fun v -> 0.1 * abs (float v) + 0.2 * float v * float v)) / 5.0
            use y = built.forward x
            Expect.equal (values y) xs "identity at inference"
            use none = built.RegularizationLoss()
            Expect.equal (none.item<float32>()) 0.0f "no penalty recorded at inference"
            built.train()
            use yt = built.forward x
            Expect.equal (values yt) xs "identity in training"
            use penalty = built.RegularizationLoss()
            Expect.floatClose Accuracy.medium (float (penalty.item<float32>())) expected "Keras's activity penalty"
            use cleared = built.RegularizationLoss()
            Expect.equal (cleared.item<float32>()) 0.0f "penalties are consumed by RegularizationLoss"
        }

        testSequenced <| propertyWith torchConfig "built Masking zeroes exactly the positions whose features all equal maskValue"
            (Arb.fromGen (Gen.zip (Gen.choose (1, 4)) (Gen.elements [ 0.0; 0.5; -1.0 ]))) (fun (features, maskValue) ->
            torchReady 26
            use built = BuiltNetwork.Build(Sequential(Input(6, features), Masking(maskValue)))
            // Random values, with some timesteps set entirely (and some partly) to the mask value.
            let rnd = Random(features)
            let data = Array.init (3 * 6 * features) (fun _ -> float32 (rnd.NextDouble() * 2.0 - 1.0))
            let mv = float32 maskValue
            for b in 0 .. 2 do
                for f in 0 .. features - 1 do data.[(b * 6 + 1) * features + f] <- mv
            data.[(0 * 6 + 4) * features] <- mv
            use x = torch.tensor(data).reshape(3L, 6L, int64 features)
            use y = built.forward x
            let xs, ys = values x, values y
            Seq.forall (fun (b, t) ->
                let row = [ for f in 0 .. features - 1 -> xs.[(b * 6 + t) * features + f] ]
                let masked = row |> List.forall (fun v -> float v = float (float32 maskValue))
                List.forall (fun f -> ys.[(b * 6 + t) * features + f] = (if masked then 0.0f else row.[f])) [ 0 .. features - 1 ])
                [ for b in 0 .. 2 do for t in 0 .. 5 -> b, t ])

        testSequenced <| test "built Lambda runs its function; a function that breaks its declared shape is a clear error" {
            torchReady 27
            let square = fn (fun x -> x * x)
            // F# lambdas convert to the delegate directly, with or without a shape argument.
            use built = BuiltNetwork.Build(Sequential(Input(4), Lambda(fun x -> x * x), Lambda((fun x -> x.reshape(x.shape.[0], 2L, 2L)), Shape(2, 2)), Flatten(), Dense(2)))
            use x = torch.randn(3L, 4L)
            use y = built.forward x
            Expect.equal y.shape [| 3L; 2L |] "shape through the model"
            use lam = BuiltNetwork.Build(Sequential(Input(4), Lambda(square)))
            use z = lam.forward x
            Expect.equal (values z) (values x |> Array.map (fun v -> v * v)) "x²"
            use bad = BuiltNetwork.Build(Sequential(Input(4), Lambda(fn (fun x -> x.repeat(1L, 2L)), Shape 4)))
            throwsWith<InvalidOperationException> [ "lambda"; "(3, 8)"; "(None, 4)" ] (fun () -> bad.forward x |> ignore)
        }
    ]
