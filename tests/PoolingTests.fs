/// MaxPooling: strides default to pool_size, output-size laws, the seed example, and agreement of the built module
/// with a naive TF-padding max pool.
module Functional.Tests.PoolingTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open Functional
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Tests.Support

type PoolCase = { Pool: int * int; Strides: (int * int) option; Padding: string; Input: int * int * int }

let poolCase maxSide =
    gen {
        let! ph = Gen.choose (1, 5)
        let! pw = Gen.choose (1, 5)
        let! explicitStrides = Gen.elements [ true; false ]
        let! sh = Gen.choose (1, 4)
        let! sw = Gen.choose (1, 4)
        let! padding = Gen.elements [ "valid"; "same" ]
        let! h = Gen.choose (ph, max ph maxSide)
        let! w = Gen.choose (pw, max pw maxSide)
        let! c = Gen.choose (1, 6)
        return { Pool = (ph, pw); Strides = (if explicitStrides then Some(sh, sw) else None); Padding = padding; Input = (h, w, c) }
    }

let layerOf (c: PoolCase) =
    match c.Strides with
    | Some s -> MaxPooling2D(c.Pool, s, Padding.Parse c.Padding)
    | None -> MaxPooling2D(c.Pool, padding = Padding.Parse c.Padding)

/// Naive NHWC max pool with TF same padding (padding never wins).
let naiveMaxPool (x: float32[,,,]) (ph, pw) (sh, sw) (padding: string) =
    let n, h, w, ch = Array4D.length1 x, Array4D.length2 x, Array4D.length3 x, Array4D.length4 x
    let outLen len p s = if padding = "same" then ceilDiv len s else (len - p) / s + 1
    let oh, ow = outLen h ph sh, outLen w pw sw
    let before len out p s = if padding = "same" then (max ((out - 1) * s + p - len) 0) / 2 else 0
    let pt, pl = before h oh ph sh, before w ow pw sw
    Array4D.init n oh ow ch (fun b i j c ->
        let mutable m = Single.NegativeInfinity
        for di in 0 .. ph - 1 do
            for dj in 0 .. pw - 1 do
                let r, col = i * sh - pt + di, j * sw - pl + dj
                if r >= 0 && r < h && col >= 0 && col < w then m <- max m x.[b, r, col, c]
        m)

[<Tests>]
let tests =
    testList "MaxPooling2D" [
        propertyWith pureConfig "MaxPooling2D strides default to pool_size" (Arb.fromGen (poolCase 64)) (fun c ->
            let layer = MaxPooling2D(c.Pool)
            layer.Strides = IntTuple(fst c.Pool, snd c.Pool))

        propertyWith pureConfig "MaxPooling2D output: valid floor((n-p)/s)+1, same ceil(n/s); channels kept" (Arb.fromGen (poolCase 512)) (fun c ->
            let (h, w, ch) = c.Input
            let (sh, sw) = defaultArg c.Strides c.Pool
            let one n p s = if c.Padding = "same" then ceilDiv n s else (n - p) / s + 1
            (layerOf c).ComputeOutputShape(Shape(h, w, ch)) = Shape(one h (fst c.Pool) sh, one w (snd c.Pool) sw, ch))

        test "seed 003: MaxPooling2D(2, 2) on 100×100×15 gives 50×50×15 with no parameters" {
            let layer = MaxPooling2D(2, 2)
            Expect.equal (layer.ComputeOutputShape(Shape(100, 100, 15))) (Shape(50, 50, 15)) "shape"
            Expect.equal (layer.ParameterCount(Shape(100, 100, 15))) 0L "params"
            Expect.equal (MaxPooling2D(2, 1).ComputeOutputShape(Shape(100, 100, 15))) (Shape(99, 99, 15)) "stride 1"
        }

        test "Keras default pool size is (2, 2)" {
            Expect.equal (MaxPooling2D().PoolSize) (IntTuple(2, 2)) "pool size"
        }

        test "bad arguments name the argument and value; too-small inputs name the layer and dimension" {
            throwsWith<ArgumentException> [ "poolSize"; "(0, 2)" ] (fun () -> MaxPooling2D((0, 2)) |> ignore)
            throwsWith<ArgumentException> [ "padding"; "'causal'" ] (fun () -> MaxPooling2D(2, padding = "causal") |> ignore)
            throwsWith<ShapeException> [ "MaxPooling2D"; "(None, 1, 5, 3)"; "axis 1" ] (fun () ->
                MaxPooling2D(2).ComputeOutputShape(Shape(1, 5, 3)) |> ignore)
        }

        testSequenced <| propertyWith torchConfig "built MaxPooling2D matches a naive TF max pool in shape and values" (Arb.fromGen (poolCase 11)) (fun c ->
            torchReady 4
            let (h, w, ch) = c.Input
            let model = Sequential(Input(h, w, ch), layerOf c)
            use built = BuiltModel.Build(model)
            use x = torch.randn(2L, int64 h, int64 w, int64 ch)
            use y = built.forward x
            let expected = naiveMaxPool (ConvolutionTests.toArray4 x) c.Pool (defaultArg c.Strides c.Pool) c.Padding
            y.shape = model.OutputShape.WithBatch 2L
            && Seq.forall2 (fun (a: float32) e -> a = e) (Seq.cast<float32> (ConvolutionTests.toArray4 y)) (Seq.cast<float32> expected))
    ]
