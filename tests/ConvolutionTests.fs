/// Conv1D/2D/3D: the parameter formula and output-size laws on the pure records, the seeds' worked examples,
/// construction errors, and (separately) agreement of the built TorchSharp modules with all of it.
module Functional.Tests.ConvolutionTests

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

/// A valid Conv2D case: (filters, kh, kw, sh, sw, dh, dw, padding, useBias, h, w, cin, channelsLast).
type ConvCase =
    { Filters: int; Kernel: int * int; Strides: int * int; Dilation: int * int
      Padding: string; UseBias: bool; Input: int * int * int; ChannelsLast: bool }
    member c.Layer =
        Conv2D(c.Filters, c.Kernel, c.Strides, Padding.Parse c.Padding,
               (if c.ChannelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst),
               c.Dilation, useBias = c.UseBias)
    member c.InputShape =
        let (h, w, ch) = c.Input
        if c.ChannelsLast then Shape(h, w, ch) else Shape(ch, h, w)

let convCase maxSide maxFilters =
    gen {
        let! filters = Gen.choose (1, maxFilters)
        let! kh = Gen.choose (1, 7)
        let! kw = Gen.choose (1, 7)
        // Keras rejects strides > 1 together with dilation > 1: pick one of the two.
        let! strided = Gen.elements [ true; false ]
        let! sh = if strided then Gen.choose (1, 4) else Gen.constant 1
        let! sw = if strided then Gen.choose (1, 4) else Gen.constant 1
        let! dh = if strided then Gen.constant 1 else Gen.choose (1, 3)
        let! dw = if strided then Gen.constant 1 else Gen.choose (1, 3)
        let! padding = Gen.elements [ "valid"; "same" ]
        let! useBias = Gen.elements [ true; false ]
        let! h = Gen.choose ((kh - 1) * dh + 1, max ((kh - 1) * dh + 1) maxSide)
        let! w = Gen.choose ((kw - 1) * dw + 1, max ((kw - 1) * dw + 1) maxSide)
        let! cin = Gen.choose (1, 8)
        let! channelsLast = Gen.elements [ true; false ]
        return { Filters = filters; Kernel = (kh, kw); Strides = (sh, sw); Dilation = (dh, dw); Padding = padding
                 UseBias = useBias; Input = (h, w, cin); ChannelsLast = channelsLast }
    }

let private expectedSpatial (c: ConvCase) =
    let (h, w, _) = c.Input
    let one n k s d =
        if c.Padding = "same" then ceilDiv n s else ceilDiv (n - (k - 1) * d) s
    one h (fst c.Kernel) (fst c.Strides) (fst c.Dilation), one w (snd c.Kernel) (snd c.Strides) (snd c.Dilation)

/// Naive NHWC convolution with Keras kernel layout W[i, j, c, k], TF same padding. Reference for values.
let naiveConv2d (x: float32[,,,]) (kernel: float32[,,,]) (bias: float32[] option) (sh, sw) (dh, dw) (padding: string) =
    let n, h, w, _ = Array4D.length1 x, Array4D.length2 x, Array4D.length3 x, Array4D.length4 x
    let kh, kw, cin, cout = Array4D.length1 kernel, Array4D.length2 kernel, Array4D.length3 kernel, Array4D.length4 kernel
    let outLen len k s d = if padding = "same" then ceilDiv len s else ceilDiv (len - (k - 1) * d) s
    let oh, ow = outLen h kh sh dh, outLen w kw sw dw
    let padBefore len out k s d =
        if padding = "same" then (max ((out - 1) * s + (k - 1) * d + 1 - len) 0) / 2 else 0
    let pt, pl = padBefore h oh kh sh dh, padBefore w ow kw sw dw
    Array4D.init n oh ow cout (fun b i j k ->
        let mutable acc = match bias with Some bs -> bs.[k] | None -> 0.0f
        for di in 0 .. kh - 1 do
            for dj in 0 .. kw - 1 do
                let r, col = i * sh - pt + di * dh, j * sw - pl + dj * dw
                if r >= 0 && r < h && col >= 0 && col < w then
                    for c in 0 .. cin - 1 do
                        acc <- acc + x.[b, r, col, c] * kernel.[di, dj, c, k]
        acc)

let toArray4 (t: torch.Tensor) =
    let s = t.shape |> Array.map int
    let data = t.contiguous().cpu().data<float32>().ToArray()
    Array4D.init s.[0] s.[1] s.[2] s.[3] (fun a b c d -> data.[((a * s.[1] + b) * s.[2] + c) * s.[3] + d])

[<Tests>]
let pureLaws =
    testList "Conv2D (pure)" [
        propertyWith pureConfig "Conv2D output size: same = ceil(n/s), valid = ceil((n-(f-1)d)/s)" (Arb.fromGen (convCase 512 256)) (fun c ->
            let out = c.Layer.ComputeOutputShape c.InputShape
            let eh, ew = expectedSpatial c
            if c.ChannelsLast then out = Shape(eh, ew, c.Filters) else out = Shape(c.Filters, eh, ew))

        propertyWith pureConfig "Conv2D params = K·F·F·D_in + K, or K·F·F·D_in without a bias" (Arb.fromGen (convCase 64 512)) (fun c ->
            let (_, _, din) = c.Input
            let kh, kw = c.Kernel
            let k = int64 c.Filters
            let weights = k * int64 kh * int64 kw * int64 din
            c.Layer.ParameterCount c.InputShape = (if c.UseBias then weights + k else weights))

        test "seed 003, example 1: Conv2D(16, 2, strides 2) on 200×200×1 gives 100×100×16 with 80 params" {
            let layer = Conv2D(16, 2, strides = 2, activation = "relu")
            Expect.equal (layer.ComputeOutputShape(Shape(200, 200, 1))) (Shape(100, 100, 16)) "shape"
            Expect.equal (layer.ParameterCount(Shape(200, 200, 1))) 80L "params"
        }

        test "seed 003, example 2: then Conv2D(32, 3, same) gives 100×100×32 with 4,640 params" {
            let layer = Conv2D(32, 3, padding = "same", activation = "relu")
            Expect.equal (layer.ComputeOutputShape(Shape(100, 100, 16))) (Shape(100, 100, 32)) "shape"
            Expect.equal (layer.ParameterCount(Shape(100, 100, 16))) 4640L "params"
        }

        test "Keras defaults: strides 1, valid, channels_last, dilation 1, groups 1, linear, bias, glorot_uniform/zeros" {
            let c = Conv2D(8, 3)
            Expect.equal c.Strides (IntTuple(1, 1)) "strides"
            Expect.equal c.Padding Padding.Valid "padding"
            Expect.equal c.DataFormat DataFormat.ChannelsLast "data format"
            Expect.equal c.DilationRate (IntTuple(1, 1)) "dilation"
            Expect.equal c.Groups 1 "groups"
            Expect.isTrue c.Activation.IsLinear "activation"
            Expect.isTrue c.UseBias "bias"
            Expect.equal c.KernelInitializer (GlorotUniform() :> Initializer) "kernel init"
            Expect.equal c.BiasInitializer (Zeros() :> Initializer) "bias init"
            Expect.equal (Conv2D(8, 3)) (Conv2D(8, (3, 3))) "int and tuple kernel sizes are the same record"
        }

        test "bad arguments are rejected at construction naming the argument and value" {
            throwsWith<ArgumentException> [ "Conv2D"; "filters"; "filters=0" ] (fun () -> Conv2D(0, 3) |> ignore)
            throwsWith<ArgumentException> [ "Conv2D"; "kernelSize"; "(3, 0)" ] (fun () -> Conv2D(8, (3, 0)) |> ignore)
            throwsWith<ArgumentException> [ "Conv2D"; "kernelSize"; "(1, 2, 3)" ] (fun () -> Conv2D(8, (1, 2, 3)) |> ignore)
            throwsWith<ArgumentException> [ "padding"; "'full'" ] (fun () -> Conv2D(8, 3, padding = "full") |> ignore)
            throwsWith<ArgumentException> [ "strides=(2, 2)"; "dilationRate=(2, 2)" ] (fun () -> Conv2D(8, 3, strides = 2, dilationRate = 2) |> ignore)
            throwsWith<ArgumentException> [ "causal" ] (fun () -> Conv2D(8, 3, padding = "causal") |> ignore)
            throwsWith<ArgumentException> [ "groups=3"; "filters=8" ] (fun () -> Conv2D(8, 3, groups = 3) |> ignore)
        }

        test "an input too small for a valid convolution names the layer, the input shape and the dimension" {
            throwsWith<ShapeException> [ "Conv2D 'conv2d_1'"; "(None, 2, 7, 8)"; "axis 1"; "length 2" ] (fun () ->
                Sequential(Input(4, 9, 1), Conv2D(8, 3), Conv2D(8, 3)) |> ignore)
            throwsWith<ShapeException> [ "Conv2D"; "rank 3"; "got rank 2" ] (fun () ->
                Conv2D(8, 3).ComputeOutputShape(Shape(28, 28)) |> ignore)
        }
    ]

[<Tests>]
let torchLaws =
    testSequenced <| testList "Conv2D (TorchSharp)" [
        propertyWith torchConfig "built Conv2D: forward shape = inferred shape, Σ numel = counted params" (Arb.fromGen (convCase 24 16)) (fun c ->
            torchReady 1
            let model = Sequential(Input(c.InputShape), c.Layer)
            use built = BuiltModel.Build(model)
            use x = torch.randn(c.InputShape.WithBatch 2L)
            use y = built.forward x
            let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
            y.shape = model.OutputShape.WithBatch 2L && numel = model.ParameterCount)

        propertyWith torchConfig "built Conv2D (channels_last) computes what a naive TF-padding convolution computes" (Arb.fromGen (convCase 12 6)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 2
            let model = Sequential(Input(c.InputShape), c.Layer)
            use built = BuiltModel.Build(model)
            use x = torch.randn(c.InputShape.WithBatch 2L)
            use y = built.forward x
            let weights = built.Weights |> Seq.map (fun w -> w.Name, w.Parameter) |> Map.ofSeq
            // PyTorch layout (out, in, kh, kw) → Keras layout (kh, kw, in, out).
            use kerasKernel = weights.["conv2d/kernel"].permute(2L, 3L, 1L, 0L).contiguous()
            let bias = weights |> Map.tryFind "conv2d/bias" |> Option.map (fun b -> b.detach().cpu().data<float32>().ToArray())
            let expected = naiveConv2d (toArray4 x) (toArray4 kerasKernel) bias c.Strides c.Dilation c.Padding
            let actual = toArray4 y
            Array4D.length2 expected = Array4D.length2 actual
            && Seq.forall2 (fun (a: float32) (e: float32) -> abs (a - e) <= 1e-4f * (1.0f + abs e))
                   (Seq.cast<float32> actual) (Seq.cast<float32> expected))

        test "channels_first equals channels_last under transposition, with the same weights" {
            torchReady 3
            let last = Sequential(Input(9, 8, 3), Conv2D(4, 3, strides = 2, padding = "same"))
            let first = Sequential(Input(3, 9, 8), Conv2D(4, 3, strides = 2, padding = "same", dataFormat = "channels_first"))
            use a = BuiltModel.Build(last)
            use b = BuiltModel.Build(first)
            for wa, wb in Seq.zip a.Weights b.Weights do
                let pa, pb = wa.Parameter, wb.Parameter
                use _ = torch.no_grad()
                pb.copy_(pa) |> ignore
            use x = torch.randn(2L, 9L, 8L, 3L)
            use ya = a.forward x
            use xb = x.permute(0L, 3L, 1L, 2L)
            use yb = b.forward xb
            use ybLast = yb.permute(0L, 2L, 3L, 1L)
            Expect.isTrue (ya.allclose(ybLast, 1e-5, 1e-6)) "same values"
        }
    ]
