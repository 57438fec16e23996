/// SeparableConv1D/2D, DepthwiseConv1D/2D, Conv1D/2D/3DTranspose: parameter and shape laws on the pure records, Keras's own
/// test tables and docstring examples, construction errors, and the built TorchSharp modules against naive references.
module Functional.Tests.ConvolutionVariantTests

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
open Functional.Shapes
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support
open Functional.Tests.ConvolutionTests

let private fmt channelsLast = if channelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
let private shape2d channelsLast (h: int, w: int, c: int) = if channelsLast then Shape(h, w, c) else Shape(c, h, w)
let private effective k d = (k - 1) * d + 1
/// Keras's conv output length (valid ⌈(n − k')/s⌉, same ⌈n/s⌉).
let private convLen padding n k s d = if padding = "same" then ceilDiv n s else ceilDiv (n - effective k d + 1) s

/// A valid depthwise/separable case; strides > 1 and dilation > 1 may come together (Keras 3 allows it for these layers).
type WindowCase =
    { Filters: int; Multiplier: int; Kernel: int * int; Strides: int * int; Dilation: int * int
      Padding: string; UseBias: bool; Input: int * int * int; ChannelsLast: bool }
    member c.InputShape = shape2d c.ChannelsLast c.Input
    member c.Separable =
        SeparableConv2D(c.Filters, IntTuple(fst c.Kernel, snd c.Kernel), IntTuple(fst c.Strides, snd c.Strides), Padding.Parse c.Padding,
                        fmt c.ChannelsLast, IntTuple(fst c.Dilation, snd c.Dilation), c.Multiplier, useBias = c.UseBias)
    member c.Depthwise =
        DepthwiseConv2D(IntTuple(fst c.Kernel, snd c.Kernel), IntTuple(fst c.Strides, snd c.Strides), Padding.Parse c.Padding, c.Multiplier,
                        fmt c.ChannelsLast, IntTuple(fst c.Dilation, snd c.Dilation), useBias = c.UseBias)
    member c.Spatial =
        let (h, w, _) = c.Input
        convLen c.Padding h (fst c.Kernel) (fst c.Strides) (fst c.Dilation), convLen c.Padding w (snd c.Kernel) (snd c.Strides) (snd c.Dilation)

let windowCase maxSide maxChannels =
    gen {
        let! filters = Gen.choose (1, maxChannels)
        let! multiplier = Gen.choose (1, 4)
        let! kh = Gen.choose (1, 5)
        let! kw = Gen.choose (1, 5)
        let! sh = Gen.choose (1, 3)
        let! sw = Gen.choose (1, 3)
        let! dh = Gen.choose (1, 3)
        let! dw = Gen.choose (1, 3)
        let! padding = Gen.elements [ "valid"; "same" ]
        let! useBias = Gen.elements [ true; false ]
        let! h = Gen.choose (effective kh dh, max (effective kh dh) maxSide)
        let! w = Gen.choose (effective kw dw, max (effective kw dw) maxSide)
        let! cin = Gen.choose (1, maxChannels)
        let! channelsLast = Gen.elements [ true; false ]
        return { Filters = filters; Multiplier = multiplier; Kernel = (kh, kw); Strides = (sh, sw); Dilation = (dh, dw); Padding = padding
                 UseBias = useBias; Input = (h, w, cin); ChannelsLast = channelsLast }
    }

/// A valid transposed-convolution case; outputPadding is None (Keras's default) or below the stride on each axis.
type TransposeCase =
    { Filters: int; Kernel: int * int; Strides: int * int; Dilation: int * int; Padding: string
      OutputPadding: (int * int) option; UseBias: bool; Input: int * int * int; ChannelsLast: bool }
    member c.InputShape = shape2d c.ChannelsLast c.Input
    member c.Layer =
        let op = match c.OutputPadding with Some(a, b) -> IntTuple(a, b) | None -> IntTuple()
        Conv2DTranspose(c.Filters, IntTuple(fst c.Kernel, snd c.Kernel), IntTuple(fst c.Strides, snd c.Strides), Padding.Parse c.Padding,
                        fmt c.ChannelsLast, IntTuple(fst c.Dilation, snd c.Dilation), useBias = c.UseBias, outputPadding = op)

/// Keras's `_get_output_shape_given_tf_padding`, written out independently of the library.
let kerasTransposeLen padding (outputPadding: int option) n k s d =
    let k' = effective k d
    match padding, outputPadding with
    | "valid", None -> (n - 1) * s + k' + (max k' s - k')
    | "valid", Some p -> (n - 1) * s + k' + p
    | _, None -> n * s
    | _, Some p -> (n - 1) * s + k' % 2 + p

let transposeCase maxSide maxChannels =
    gen {
        let! filters = Gen.choose (1, maxChannels)
        let! kh = Gen.choose (1, 5)
        let! kw = Gen.choose (1, 5)
        let! strided = Gen.elements [ true; true; false ]
        let! sh = if strided then Gen.choose (1, 4) else Gen.constant 1
        let! sw = if strided then Gen.choose (1, 4) else Gen.constant 1
        let! dh = if strided then Gen.constant 1 else Gen.choose (1, 3)
        let! dw = if strided then Gen.constant 1 else Gen.choose (1, 3)
        let! padding = Gen.elements [ "valid"; "same" ]
        let! withOp = Gen.elements [ true; false ]
        let! oh = Gen.choose (0, sh - 1)
        let! ow = Gen.choose (0, sw - 1)
        let! useBias = Gen.elements [ true; false ]
        let! h = Gen.choose (1, maxSide)
        let! w = Gen.choose (1, maxSide)
        let! cin = Gen.choose (1, maxChannels)
        let! channelsLast = Gen.elements [ true; false ]
        return { Filters = filters; Kernel = (kh, kw); Strides = (sh, sw); Dilation = (dh, dw); Padding = padding
                 OutputPadding = (if withOp then Some(oh, ow) else None); UseBias = useBias; Input = (h, w, cin); ChannelsLast = channelsLast }
    }
    // `same` with output_padding 0, an even kernel and one input step has an empty output (rejected, tested separately).
    |> Gen.filter (fun c ->
        let (h, w, _) = c.Input
        kerasTransposeLen c.Padding (Option.map fst c.OutputPadding) h (fst c.Kernel) (fst c.Strides) (fst c.Dilation) > 0
        && kerasTransposeLen c.Padding (Option.map snd c.OutputPadding) w (snd c.Kernel) (snd c.Strides) (snd c.Dilation) > 0)

/// Naive NHWC depthwise convolution, Keras kernel layout K[i, j, c, m], output channel c·dm + m, TF same padding.
let naiveDepthwise2d (x: float32[,,,]) (kernel: float32[,,,]) (bias: float32[] option) (sh, sw) (dh, dw) (padding: string) =
    let n, h, w, _ = Array4D.length1 x, Array4D.length2 x, Array4D.length3 x, Array4D.length4 x
    let kh, kw, cin, dm = Array4D.length1 kernel, Array4D.length2 kernel, Array4D.length3 kernel, Array4D.length4 kernel
    let oh, ow = convLen padding h kh sh dh, convLen padding w kw sw dw
    let before len out k s d = if padding = "same" then (max ((out - 1) * s + effective k d - len) 0) / 2 else 0
    let pt, pl = before h oh kh sh dh, before w ow kw sw dw
    Array4D.init n oh ow (cin * dm) (fun b i j ch ->
        let c, m = ch / dm, ch % dm
        let mutable acc = match bias with Some bs -> bs.[ch] | None -> 0.0f
        for di in 0 .. kh - 1 do
            for dj in 0 .. kw - 1 do
                let r, col = i * sh - pt + di * dh, j * sw - pl + dj * dw
                if r >= 0 && r < h && col >= 0 && col < w then acc <- acc + x.[b, r, col, c] * kernel.[di, dj, c, m]
        acc)

/// Naive NHWC transposed convolution as TensorFlow defines it: the adjoint of its forward convolution over an output of
/// Keras's length O, i.e. input (i, j) adds x·K[a, b, f, c] at (i·s + a·d − pad, j·s + b·d − pad) with TF's forward padding
/// for O (`same`: ⌊max((n−1)·s + k' − O, 0)/2⌋; `valid`: 0). Kernel layout K[a, b, filters, in]. The bias is added everywhere.
let naiveConvTranspose2d (x: float32[,,,]) (kernel: float32[,,,]) (bias: float32[] option) (sh, sw) (dh, dw) (padding: string) (op: (int * int) option) =
    let n, h, w, cin = Array4D.length1 x, Array4D.length2 x, Array4D.length3 x, Array4D.length4 x
    let kh, kw, filters = Array4D.length1 kernel, Array4D.length2 kernel, Array4D.length3 kernel
    let oh = kerasTransposeLen padding (Option.map fst op) h kh sh dh
    let ow = kerasTransposeLen padding (Option.map snd op) w kw sw dw
    let pad len out k s d = if padding = "same" then (max ((len - 1) * s + effective k d - out) 0) / 2 else 0
    let pt, pl = pad h oh kh sh dh, pad w ow kw sw dw
    let out = Array4D.init n oh ow filters (fun _ _ _ f -> match bias with Some bs -> bs.[f] | None -> 0.0f)
    for b in 0 .. n - 1 do
        for i in 0 .. h - 1 do
            for j in 0 .. w - 1 do
                for a in 0 .. kh - 1 do
                    for bb in 0 .. kw - 1 do
                        let r, col = i * sh + a * dh - pt, j * sw + bb * dw - pl
                        if r >= 0 && r < oh && col >= 0 && col < ow then
                            for f in 0 .. filters - 1 do
                                let mutable acc = 0.0f
                                for c in 0 .. cin - 1 do acc <- acc + x.[b, i, j, c] * kernel.[a, bb, f, c]
                                out.[b, r, col, f] <- out.[b, r, col, f] + acc
    out

let private close (actual: float32[,,,]) (expected: float32[,,,]) =
    Array4D.length1 actual = Array4D.length1 expected && Array4D.length2 actual = Array4D.length2 expected
    && Array4D.length3 actual = Array4D.length3 expected && Array4D.length4 actual = Array4D.length4 expected
    && Seq.forall2 (fun (a: float32) (e: float32) -> abs (a - e) <= 1e-4f * (1.0f + abs e)) (Seq.cast<float32> actual) (Seq.cast<float32> expected)

/// The built model's weights in Keras layout, by Keras path.
let kerasWeights (built: BuiltNetwork) =
    built.Weights |> Seq.map (fun w -> w.Name, w.KerasView()) |> Map.ofSeq

let private specsOf (layer: Layer) (input: Shape) = [ for p in layer.Parameters input -> p.Name, p.Shape ]

/// Copies every weight of `source` into `target` (same layer types, same order), for layout-equivalence checks.
let copyWeights (source: BuiltNetwork) (target: BuiltNetwork) =
    use _ = torch.no_grad()
    for ws, wt in Seq.zip source.Weights target.Weights do
        wt.Parameter.copy_(ws.Parameter) |> ignore

[<Tests>]
let pureLaws =
    testList "Convolution variants (pure)" [
        propertyWith pureConfig "SeparableConv2D params = k·k·in·dm + in·dm·filters + filters (no last term without bias)" (Arb.fromGen (windowCase 64 512)) (fun c ->
            let (_, _, cin) = c.Input
            let kh, kw = c.Kernel
            let depthwise = int64 kh * int64 kw * int64 cin * int64 c.Multiplier
            let pointwise = int64 cin * int64 c.Multiplier * int64 c.Filters
            c.Separable.ParameterCount c.InputShape = depthwise + pointwise + (if c.UseBias then int64 c.Filters else 0L))

        propertyWith pureConfig "SeparableConv2D output: conv lengths, `filters` channels" (Arb.fromGen (windowCase 512 64)) (fun c ->
            let oh, ow = c.Spatial
            c.Separable.ComputeOutputShape c.InputShape = shape2d c.ChannelsLast (oh, ow, c.Filters))

        propertyWith pureConfig "SeparableConv2D weights: depthwise_kernel (kh, kw, in, dm), pointwise_kernel (1, 1, in·dm, filters), bias (filters,)" (Arb.fromGen (windowCase 32 32)) (fun c ->
            let (_, _, cin) = c.Input
            let kh, kw = c.Kernel
            let expected =
                [ "depthwise_kernel", Shape(kh, kw, cin, c.Multiplier); "pointwise_kernel", Shape(1, 1, cin * c.Multiplier, c.Filters) ]
                @ (if c.UseBias then [ "bias", Shape(c.Filters) ] else [])
            specsOf c.Separable c.InputShape = expected)

        propertyWith pureConfig "DepthwiseConv2D params = k·k·in·dm + in·dm; output has in·dm channels" (Arb.fromGen (windowCase 256 256)) (fun c ->
            let (_, _, cin) = c.Input
            let kh, kw = c.Kernel
            let out = int64 cin * int64 c.Multiplier
            let oh, ow = c.Spatial
            c.Depthwise.ParameterCount c.InputShape = int64 kh * int64 kw * out + (if c.UseBias then out else 0L)
            && c.Depthwise.ComputeOutputShape c.InputShape = shape2d c.ChannelsLast (oh, ow, cin * c.Multiplier)
            && specsOf c.Depthwise c.InputShape =
                   ("kernel", Shape(kh, kw, cin, c.Multiplier)) :: (if c.UseBias then [ "bias", Shape(cin * c.Multiplier) ] else []))

        propertyWith pureConfig "Conv2DTranspose output = Keras's compute_conv_transpose_output_shape; kernel (kh, kw, filters, in)" (Arb.fromGen (transposeCase 512 64)) (fun c ->
            let (h, w, cin) = c.Input
            let kh, kw = c.Kernel
            let oh = kerasTransposeLen c.Padding (c.OutputPadding |> Option.map fst) h kh (fst c.Strides) (fst c.Dilation)
            let ow = kerasTransposeLen c.Padding (c.OutputPadding |> Option.map snd) w kw (snd c.Strides) (snd c.Dilation)
            c.Layer.ComputeOutputShape c.InputShape = shape2d c.ChannelsLast (oh, ow, c.Filters)
            && specsOf c.Layer c.InputShape =
                   ("kernel", Shape(kh, kw, c.Filters, cin)) :: (if c.UseBias then [ "bias", Shape(c.Filters) ] else [])
            && c.Layer.ParameterCount c.InputShape = int64 kh * int64 kw * int64 c.Filters * int64 cin + (if c.UseBias then int64 c.Filters else 0L))

        propertyWith pureConfig "ConvTransposeCrop: never crops negatively at the start; full length − crops = Keras's output length"
            (Arb.fromGen (gen {
                let! n = Gen.choose (1, 300)
                let! k = Gen.choose (1, 9)
                let! s = Gen.choose (1, 9)
                let! d = Gen.choose (1, 4)
                let! same = Gen.elements [ true; false ]
                let! op = Gen.choose (-1, s - 1)
                return n, k, s, d, same, op })) (fun (n, k, s, d, same, op) ->
            let padding = if same then Padding.Same else Padding.Valid
            let opt = if op < 0 then Nullable() else Nullable op
            let struct (before, after) = ConvArithmetic.ConvTransposeCrop(k, s, padding, opt, d)
            let expected = kerasTransposeLen (string padding) (if op < 0 then None else Some op) n k s d
            before >= 0
            && (n - 1) * s + effective k d - before - after = expected
            && ConvArithmetic.ConvTransposeOutputLength(n, k, s, padding, opt, d) = expected)

        test "1-D and 3-D variants count parameters by the same laws" {
            Expect.equal (SeparableConv1D(7, 3, depthMultiplier = 2).ParameterCount(Shape(20, 5))) (3L * 5L * 2L + 5L * 2L * 7L + 7L) "SeparableConv1D"
            Expect.equal (DepthwiseConv1D(4, depthMultiplier = 3).ParameterCount(Shape(20, 5))) (4L * 5L * 3L + 15L) "DepthwiseConv1D"
            Expect.equal (Conv1DTranspose(6, 3).ParameterCount(Shape(8, 4))) (3L * 6L * 4L + 6L) "Conv1DTranspose"
            Expect.equal (Conv3DTranspose(6, (2, 3, 4)).ParameterCount(Shape(5, 5, 5, 2))) (24L * 6L * 2L + 6L) "Conv3DTranspose"
            Expect.equal [ for p in Conv3DTranspose(6, (2, 3, 4)).Parameters(Shape(5, 5, 5, 2)) -> p.Shape ] [ Shape(2, 3, 4, 6, 2); Shape(6) ] "3-D kernel layout"
        }

        test "Keras's separable_conv_test shapes (SeparableConv1D/2D, batch dropped)" {
            let check (layer: Layer) (input: Shape) (output: Shape) = Expect.equal (layer.ComputeOutputShape input) output (string layer)
            check (SeparableConv1D(5, 2, depthMultiplier = 5)) (Shape(5, 4)) (Shape(4, 5))
            check (SeparableConv1D(6, 2, padding = "same", dilationRate = IntTuple(2), depthMultiplier = 6)) (Shape(4, 4)) (Shape(4, 6))
            check (SeparableConv1D(6, 2, strides = IntTuple(2), depthMultiplier = 6)) (Shape(5, 4)) (Shape(2, 6))
            check (SeparableConv2D(5, 2, depthMultiplier = 5)) (Shape(5, 5, 4)) (Shape(4, 4, 5))
            check (SeparableConv2D(6, 2, padding = "same", dilationRate = (2, 2), depthMultiplier = 6)) (Shape(4, 4, 4)) (Shape(4, 4, 6))
            check (SeparableConv2D(6, (2, 2), strides = (2, 2), depthMultiplier = 6)) (Shape(5, 5, 4)) (Shape(2, 2, 6))
            Expect.equal (SeparableConv2D(5, 2).Parameters(Shape(5, 5, 4)).Count) 3 "three trainable weights"
        }

        test "Keras's depthwise_conv_test shapes and docstring example" {
            let check (layer: Layer) (input: Shape) (output: Shape) = Expect.equal (layer.ComputeOutputShape input) output (string layer)
            check (DepthwiseConv1D(2, depthMultiplier = 5)) (Shape(5, 4)) (Shape(4, 20))
            check (DepthwiseConv1D(2, padding = "same", depthMultiplier = 6, dilationRate = IntTuple(2))) (Shape(4, 4)) (Shape(4, 24))
            check (DepthwiseConv1D(2, strides = IntTuple(2), depthMultiplier = 6)) (Shape(5, 4)) (Shape(2, 24))
            check (DepthwiseConv2D(2, depthMultiplier = 5)) (Shape(5, 5, 4)) (Shape(4, 4, 20))
            check (DepthwiseConv2D(2, padding = "same", depthMultiplier = 6, dilationRate = (2, 2))) (Shape(4, 4, 4)) (Shape(4, 4, 24))
            check (DepthwiseConv2D((2, 2), strides = (2, 2), depthMultiplier = 6)) (Shape(5, 5, 4)) (Shape(2, 2, 24))
            // Docstring: DepthwiseConv1D(kernel_size=3, depth_multiplier=3, strides=2) on (4, 10, 12) → (4, 4, 36).
            check (DepthwiseConv1D(3, strides = 2, depthMultiplier = 3, activation = "relu")) (Shape(10, 12)) (Shape(4, 36))
            Expect.equal (DepthwiseConv2D(2).Parameters(Shape(5, 5, 4)).Count) 2 "two trainable weights"
        }

        test "Keras's conv_transpose_test shapes and docstring examples" {
            let check (layer: Layer) (input: Shape) (output: Shape) = Expect.equal (layer.ComputeOutputShape input) output (string layer)
            check (Conv1DTranspose(5, 2, strides = 2)) (Shape(8, 4)) (Shape(16, 5))
            check (Conv1DTranspose(6, 2, strides = 3, padding = "same", outputPadding = 2, dilationRate = IntTuple(1))) (Shape(8, 4)) (Shape(23, 6))
            check (Conv1DTranspose(6, IntTuple(2), strides = IntTuple(2))) (Shape(8, 4)) (Shape(16, 6))
            check (Conv2DTranspose(5, 2, strides = 2)) (Shape(8, 8, 4)) (Shape(16, 16, 5))
            check (Conv2DTranspose(6, 2, strides = 3, padding = "same", outputPadding = 2)) (Shape(8, 8, 4)) (Shape(23, 23, 6))
            check (Conv2DTranspose(6, (2, 3), strides = (2, 1), dataFormat = "channels_first")) (Shape(4, 8, 8)) (Shape(6, 16, 10))
            check (Conv2DTranspose(2, (7, 7), strides = (16, 16))) (Shape(14, 14, 2)) (Shape(224, 224, 2))
            check (Conv3DTranspose(5, 2, strides = 2)) (Shape(8, 8, 8, 4)) (Shape(16, 16, 16, 5))
            check (Conv3DTranspose(6, 2, strides = 3, padding = "same", outputPadding = 2)) (Shape(8, 8, 8, 4)) (Shape(23, 23, 23, 6))
            check (Conv3DTranspose(6, (2, 2, 3), strides = (2, 1, 2))) (Shape(8, 8, 8, 4)) (Shape(16, 9, 17, 6))
            // Docstrings.
            check (Conv1DTranspose(32, 3, 2, activation = "relu")) (Shape(10, 128)) (Shape(21, 32))
            check (Conv2DTranspose(32, 2, 2, activation = "relu")) (Shape(10, 8, 128)) (Shape(20, 16, 32))
            check (Conv3DTranspose(32, 2, 2, activation = "relu")) (Shape(10, 8, 12, 128)) (Shape(20, 16, 24, 32))
        }

        test "Keras applications' parameter counts: Xception separable block, MobileNet depthwise block, a DCGAN generator" {
            // Xception block2_sepconv1: SeparableConv2D(128, 3, same, no bias) on 147×147×64 → 8,768.
            Expect.equal (SeparableConv2D(128, 3, padding = "same", useBias = false).ParameterCount(Shape(147, 147, 64))) 8768L "Xception"
            // MobileNet conv_dw_1: DepthwiseConv2D(3, same, no bias) on 112×112×32 → 288.
            Expect.equal (DepthwiseConv2D(3, padding = "same", useBias = false).ParameterCount(Shape(112, 112, 32))) 288L "MobileNet"
            // Keras DCGAN example: Conv2DTranspose(128, 4, strides 2, same) on 8×8×128 → 16×16×128 with 262,272 params.
            let t = Conv2DTranspose(128, 4, strides = 2, padding = "same")
            Expect.equal (t.ComputeOutputShape(Shape(8, 8, 128))) (Shape(16, 16, 128)) "DCGAN shape"
            Expect.equal (t.ParameterCount(Shape(8, 8, 128))) 262272L "DCGAN params"
        }

        test "Keras defaults and default names" {
            let s = SeparableConv2D(8, 3)
            Expect.equal (s.Strides, s.DilationRate, s.DepthMultiplier, s.Padding, s.DataFormat) (IntTuple(1, 1), IntTuple(1, 1), 1, Padding.Valid, DataFormat.ChannelsLast) "separable"
            Expect.isTrue (s.UseBias && s.Activation.IsLinear) "bias, linear"
            Expect.equal (s.DepthwiseInitializer, s.PointwiseInitializer, s.BiasInitializer) (GlorotUniform() :> Initializer, GlorotUniform() :> Initializer, Zeros() :> Initializer) "initializers"
            let d = DepthwiseConv2D(3)
            Expect.equal (d.DepthMultiplier, d.Strides, d.DepthwiseInitializer) (1, IntTuple(1, 1), GlorotUniform() :> Initializer) "depthwise"
            let t = Conv2DTranspose(4, 3)
            Expect.equal (t.OutputPadding.Count, t.Strides, t.KernelInitializer) (0, IntTuple(1, 1), GlorotUniform() :> Initializer) "transpose: outputPadding None"
            Expect.equal (Conv2DTranspose(4, 3, outputPadding = 0).OutputPadding) (IntTuple(0, 0)) "outputPadding expands"
            let model = Sequential(Input(16, 16, 3), SeparableConv2D(4, 3), DepthwiseConv2D(3), Conv2DTranspose(2, 3), Conv2DTranspose(2, 3))
            Expect.equal [ for l in model.Layers -> l.Name ] [ "separable_conv2d"; "depthwise_conv2d"; "conv2d_transpose"; "conv2d_transpose_1" ] "names"
            Expect.equal (SeparableConv1D(2, 3).DefaultNameStem, DepthwiseConv1D(3).DefaultNameStem, Conv1DTranspose(2, 3).DefaultNameStem, Conv3DTranspose(2, 3).DefaultNameStem)
                ("separable_conv1d", "depthwise_conv1d", "conv1d_transpose", "conv3d_transpose") "stems"
        }

        test "bad arguments are rejected at construction naming the layer, the argument and the value" {
            throwsWith<ArgumentException> [ "SeparableConv1D"; "depthMultiplier=0" ] (fun () -> SeparableConv1D(1, 1, depthMultiplier = 0) |> ignore)
            throwsWith<ArgumentException> [ "SeparableConv1D"; "filters=0" ] (fun () -> SeparableConv1D(0, 1) |> ignore)
            throwsWith<ArgumentException> [ "SeparableConv2D"; "kernelSize"; "(1, 0)" ] (fun () -> SeparableConv2D(2, (1, 0), depthMultiplier = 2) |> ignore)
            throwsWith<ArgumentException> [ "SeparableConv2D"; "strides"; "(1, 0)" ] (fun () -> SeparableConv2D(2, (2, 2), strides = (1, 0)) |> ignore)
            throwsWith<ArgumentException> [ "SeparableConv1D"; "padding='causal'" ] (fun () -> SeparableConv1D(2, 3, padding = "causal") |> ignore)
            throwsWith<ArgumentException> [ "DepthwiseConv1D"; "depthMultiplier=0" ] (fun () -> DepthwiseConv1D(1, depthMultiplier = 0) |> ignore)
            throwsWith<ArgumentException> [ "DepthwiseConv2D"; "kernelSize"; "(1, 0)" ] (fun () -> DepthwiseConv2D((1, 0), depthMultiplier = 2) |> ignore)
            throwsWith<ArgumentException> [ "DepthwiseConv1D"; "'causal'" ] (fun () -> DepthwiseConv1D(3, padding = "causal") |> ignore)
            throwsWith<ArgumentException> [ "Conv1DTranspose"; "filters=0" ] (fun () -> Conv1DTranspose(0, 1) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "kernelSize"; "(1, 0)" ] (fun () -> Conv2DTranspose(2, (1, 0)) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "strides"; "(1, 0)" ] (fun () -> Conv2DTranspose(2, (2, 2), strides = (1, 0)) |> ignore)
            // Keras: "`output_padding` must be strictly less than `strides`".
            throwsWith<ArgumentException> [ "Conv1DTranspose"; "`output_padding` must be strictly less than `strides`"; "outputPadding=2"; "strides=2" ] (fun () ->
                Conv1DTranspose(2, 3, strides = 2, outputPadding = 2) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "strictly less than"; "outputPadding=(3, 3)" ] (fun () ->
                Conv2DTranspose(2, 3, strides = 2, outputPadding = 3) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "strictly less than"; "outputPadding=(1, 3)"; "strides=(2, 3)" ] (fun () ->
                Conv2DTranspose(2, 3, strides = (2, 3), outputPadding = (1, 3)) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "outputPadding"; "(-1, 0)" ] (fun () ->
                Conv2DTranspose(2, 3, strides = 2, outputPadding = (-1, 0)) |> ignore)
            throwsWith<ArgumentException> [ "Conv2DTranspose"; "strides=(2, 2)"; "dilationRate=(2, 1)" ] (fun () ->
                Conv2DTranspose(2, (2, 2), strides = 2, dilationRate = (2, 1)) |> ignore)
            throwsWith<ArgumentException> [ "Conv3DTranspose"; "'causal'" ] (fun () -> Conv3DTranspose(2, 3, padding = "causal") |> ignore)
        }

        test "Depthwise and separable convolutions take strides > 1 with dilation > 1, as Keras 3 does (keras-team/keras#22598)" {
            let check (layer: Layer) input output = Expect.equal (layer.ComputeOutputShape(Shape(input: int[]))) (Shape(output: int[])) (string layer)
            // keras-team/keras#16314's case: TF 2.8 printed (8, 7, 516); TF's `same` gives ⌈14/2⌉ = 7 on both axes.
            check (DepthwiseConv2D(3, strides = 2, padding = "same", dilationRate = (3, 1))) [| 14; 14; 516 |] [| 7; 7; 516 |]
            // valid: ⌊(n − (k−1)·d − 1)/s⌋ + 1 = ⌊(11 − 5)/2⌋ + 1 = 4 and ⌊(10 − 5)/2⌋ + 1 = 3.
            check (DepthwiseConv2D(3, strides = 2, dilationRate = 2, depthMultiplier = 2)) [| 11; 10; 3 |] [| 4; 3; 6 |]
            check (SeparableConv2D(5, 3, strides = (2, 3), dilationRate = 2)) [| 11; 10; 3 |] [| 4; 2; 5 |]
            check (DepthwiseConv1D(3, strides = 3, dilationRate = IntTuple 2, padding = "same")) [| 10; 4 |] [| 4; 4 |]
            check (SeparableConv1D(7, 2, strides = 2, dilationRate = IntTuple 3, dataFormat = "channels_first")) [| 4; 9 |] [| 7; 3 |]
            Expect.equal (ConvArithmetic.ConvOutputLength(9, 2, 2, Padding.Valid, 3)) 3 "the same arithmetic as Conv"
            // Conv and the transposed convolutions keep Keras's rule.
            throwsWith<ArgumentException> [ "Conv2D"; "strides=(2, 2)"; "dilationRate=(2, 2)" ] (fun () -> Conv2D(2, 3, strides = 2, dilationRate = 2) |> ignore)
        }

        test "inputs that do not fit name the layer, the input shape and the dimension" {
            throwsWith<ShapeException> [ "SeparableConv2D 'separable_conv2d'"; "(None, 2, 9, 3)"; "axis 1"; "length 2" ] (fun () ->
                Sequential(Input(2, 9, 3), SeparableConv2D(4, 3)) |> ignore)
            throwsWith<ShapeException> [ "DepthwiseConv2D"; "(None, 9, 4, 3)"; "axis 2"; "dilated kernel extent 5" ] (fun () ->
                DepthwiseConv2D(3, dilationRate = 2).ComputeOutputShape(Shape(9, 4, 3)) |> ignore)
            throwsWith<ShapeException> [ "Conv2DTranspose"; "rank 3"; "got rank 2" ] (fun () ->
                Conv2DTranspose(2, 3).ComputeOutputShape(Shape(8, 8)) |> ignore)
            throwsWith<ShapeException> [ "Conv2DTranspose"; "(None, 1, 5, 3)"; "axis 1"; "length 0" ] (fun () ->
                Conv2DTranspose(2, 4, strides = 2, padding = "same", outputPadding = 0).ComputeOutputShape(Shape(1, 5, 3)) |> ignore)
            throwsWith<ShapeException> [ "DepthwiseConv1D"; "rank 2"; "got rank 3" ] (fun () ->
                DepthwiseConv1D(3).ComputeOutputShape(Shape(8, 8, 2)) |> ignore)
        }
    ]

let private buildAndRun (layer: Layer) (input: Shape) =
    let model = Sequential(Input(input), layer)
    let built = BuiltNetwork.Build(model)
    let x = torch.randn(input.WithBatch 2L)
    let y = built.forward x
    model, built, x, y

[<Tests>]
let torchLaws =
    testSequenced <| testList "Convolution variants (TorchSharp)" [
        propertyWith torchConfig "built SeparableConv2D / DepthwiseConv2D: forward shape = inferred, Σ numel = counted, Keras weight layout" (Arb.fromGen (windowCase 12 6)) (fun c ->
            torchReady 11
            [ c.Separable :> Layer; c.Depthwise :> Layer ] |> List.forall (fun layer ->
                let model, built, x, y = buildAndRun layer c.InputShape
                use _b = built
                use _x = x
                use _y = y
                let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
                let layouts = [ for w in built.Weights -> (use v = w.KerasView() in Shape(v.shape |> Array.map int)) ]
                y.shape = model.OutputShape.WithBatch 2L && numel = model.ParameterCount
                && layouts = [ for p in model.Layers.[0].Parameters c.InputShape -> p.Shape ]))

        propertyWith torchConfig "built Conv2DTranspose: forward shape = Keras's inferred shape, Σ numel = counted" (Arb.fromGen (transposeCase 9 5)) (fun c ->
            torchReady 12
            let model, built, x, y = buildAndRun c.Layer c.InputShape
            use _b = built
            use _x = x
            use _y = y
            let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
            y.shape = model.OutputShape.WithBatch 2L && numel = model.ParameterCount)

        test "built 1-D depthwise and separable convolutions with strides and dilation together: forward shape = the pure shape" {
            torchReady 16
            for padding in [ "valid"; "same" ] do
                for format in [ "channels_last"; "channels_first" ] do
                    let input = if format = "channels_last" then Shape(17, 3) else Shape(3, 17)
                    for layer in [ DepthwiseConv1D(3, strides = 2, padding = padding, depthMultiplier = 2, dataFormat = format, dilationRate = IntTuple 3) :> Layer
                                   SeparableConv1D(4, 3, strides = 3, padding = padding, dataFormat = format, dilationRate = IntTuple 2) ] do
                        let model, built, x, y = buildAndRun layer input
                        use _b = built
                        use _x = x
                        use _y = y
                        Expect.equal y.shape (model.OutputShape.WithBatch 2L) (sprintf "%O on %O" layer input)
        }

        propertyWith torchConfig "built DepthwiseConv2D computes what a naive depthwise convolution computes (TF padding, c·dm + m order)" (Arb.fromGen (windowCase 10 4)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 13
            let _, built, x, y = buildAndRun c.Depthwise c.InputShape
            use _b = built
            use _x = x
            use _y = y
            let w = kerasWeights built
            let bias = w |> Map.tryFind "depthwise_conv2d/bias" |> Option.map (fun b -> b.detach().cpu().data<float32>().ToArray())
            close (toArray4 y) (naiveDepthwise2d (toArray4 x) (toArray4 w.["depthwise_conv2d/kernel"]) bias c.Strides c.Dilation c.Padding))

        propertyWith torchConfig "built SeparableConv2D = naive depthwise, then a naive 1×1 convolution, then the bias" (Arb.fromGen (windowCase 10 4)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 14
            let _, built, x, y = buildAndRun c.Separable c.InputShape
            use _b = built
            use _x = x
            use _y = y
            let w = kerasWeights built
            let bias = w |> Map.tryFind "separable_conv2d/bias" |> Option.map (fun b -> b.detach().cpu().data<float32>().ToArray())
            let mid = naiveDepthwise2d (toArray4 x) (toArray4 w.["separable_conv2d/depthwise_kernel"]) None c.Strides c.Dilation c.Padding
            close (toArray4 y) (naiveConv2d mid (toArray4 w.["separable_conv2d/pointwise_kernel"]) bias (1, 1) (1, 1) "valid"))

        propertyWith torchConfig "built Conv2DTranspose computes TF's transposed convolution (valid/same, strides, dilation, outputPadding)" (Arb.fromGen (transposeCase 7 4)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 15
            let _, built, x, y = buildAndRun c.Layer c.InputShape
            use _b = built
            use _x = x
            use _y = y
            let w = kerasWeights built
            let bias = w |> Map.tryFind "conv2d_transpose/bias" |> Option.map (fun b -> b.detach().cpu().data<float32>().ToArray())
            close (toArray4 y) (naiveConvTranspose2d (toArray4 x) (toArray4 w.["conv2d_transpose/kernel"]) bias c.Strides c.Dilation c.Padding c.OutputPadding))

        test "Keras's conv1d_transpose consistency grid: ones(3) ⊛ᵀ arange(1..k), every kernel/stride/padding/outputPadding" {
            torchReady 16
            for k in 1 .. 4 do
                for s in 1 .. 4 do
                    for padding in [ "same"; "valid" ] do
                        for op in None :: [ for p in 1 .. 4 -> Some p ] do
                            if (match op with Some p -> p < s | None -> true) then
                                let layer = Conv1DTranspose(1, k, s, Padding.Parse padding, (match op with Some p -> IntTuple(p) | None -> IntTuple()), useBias = false)
                                use built = BuiltNetwork.Build(Sequential(Input(3, 1), layer))
                                do
                                    use _ = torch.no_grad()
                                    use kernel = torch.arange(1.0f, float32 (k + 1)).reshape(int64 k, 1L, 1L)
                                    use view = (Seq.head built.Weights).KerasView()
                                    view.copy_(kernel) |> ignore
                                use x = torch.ones(1L, 3L, 1L)
                                use y = built.forward x
                                // The same through the 2-D reference with a width-1 axis.
                                let x4 = Array4D.create 1 3 1 1 1.0f
                                let k4 = Array4D.init k 1 1 1 (fun a _ _ _ -> float32 (a + 1))
                                let expected = naiveConvTranspose2d x4 k4 None (s, 1) (1, 1) padding (op |> Option.map (fun p -> p, 0))
                                let actual = y.data<float32>().ToArray()
                                let expectedFlat = Seq.cast<float32> expected |> Seq.toArray
                                Expect.equal actual expectedFlat (sprintf "k=%d s=%d %s op=%A" k s padding op)
        }

        test "channels_first equals channels_last under transposition (separable, depthwise, transposed), same weights" {
            torchReady 17
            let pairs : (Layer * Layer) list =
                [ SeparableConv2D(5, 3, strides = 2, padding = "same", depthMultiplier = 2), SeparableConv2D(5, 3, strides = 2, padding = "same", depthMultiplier = 2, dataFormat = "channels_first")
                  DepthwiseConv2D((3, 2), padding = "same", depthMultiplier = 3, dilationRate = (2, 1)), DepthwiseConv2D((3, 2), padding = "same", depthMultiplier = 3, dilationRate = (2, 1), dataFormat = "channels_first")
                  Conv2DTranspose(4, 3, strides = 2, padding = "same", outputPadding = 1), Conv2DTranspose(4, 3, strides = 2, padding = "same", outputPadding = 1, dataFormat = "channels_first") ]
            for last, first in pairs do
                use a = BuiltNetwork.Build(Sequential(Input(7, 6, 3), last))
                use b = BuiltNetwork.Build(Sequential(Input(3, 7, 6), first))
                copyWeights a b
                use x = torch.randn(2L, 7L, 6L, 3L)
                use ya = a.forward x
                use xb = x.permute(0L, 3L, 1L, 2L)
                use yb = b.forward xb
                use ybLast = yb.permute(0L, 2L, 3L, 1L)
                Expect.isTrue (ya.allclose(ybLast, 1e-5, 1e-6)) (string last)
        }

        test "1-D and 3-D variants build to Keras's shapes (Keras's test tables) with Σ numel = counted" {
            torchReady 18
            let cases : (Layer * Shape) list =
                [ SeparableConv1D(6, 2, padding = "same", dilationRate = IntTuple(2), depthMultiplier = 6), Shape(4, 4)
                  SeparableConv1D(6, 2, strides = IntTuple(2), depthMultiplier = 6, dataFormat = "channels_first"), Shape(4, 5)
                  DepthwiseConv1D(3, strides = 2, depthMultiplier = 3, activation = "relu"), Shape(10, 12)
                  DepthwiseConv1D(2, padding = "same", depthMultiplier = 6, dilationRate = IntTuple(2)), Shape(4, 4)
                  Conv1DTranspose(6, 2, strides = 3, padding = "same", outputPadding = 2), Shape(8, 4)
                  Conv1DTranspose(32, 3, 2, activation = "relu"), Shape(10, 12)
                  Conv3DTranspose(6, 2, strides = 3, padding = "same", outputPadding = 2), Shape(4, 4, 4, 3)
                  Conv3DTranspose(6, (2, 2, 3), strides = (2, 1, 2)), Shape(4, 4, 4, 3)
                  Conv3DTranspose(3, 3, padding = "same", dataFormat = "channels_first", dilationRate = 2), Shape(2, 5, 4, 3) ]
            for layer, input in cases do
                let model, built, x, y = buildAndRun layer input
                use _b = built
                use _x = x
                use _y = y
                Expect.equal y.shape (model.OutputShape.WithBatch 2L) (string layer)
                Expect.equal (built.parameters() |> Seq.sumBy (fun p -> p.numel())) model.ParameterCount (string layer)
        }

        test "one-channel channels_last inputs with an output axis of length 1 and stride > 1 (a libtorch CPU bug) match the naive references" {
            torchReady 20
            let case = { Filters = 3; Multiplier = 4; Kernel = (4, 5); Strides = (1, 3); Dilation = (1, 1); Padding = "valid"
                         UseBias = true; Input = (8, 6, 1); ChannelsLast = true }
            let _, builtD, xD, yD = buildAndRun case.Depthwise case.InputShape
            use _b = builtD
            use _x = xD
            use _y = yD
            let wD = kerasWeights builtD
            let biasD = wD.["depthwise_conv2d/bias"].detach().data<float32>().ToArray()
            Expect.isTrue (close (toArray4 yD) (naiveDepthwise2d (toArray4 xD) (toArray4 wD.["depthwise_conv2d/kernel"]) (Some biasD) (1, 3) (1, 1) "valid")) "depthwise"
            let _, builtS, xS, yS = buildAndRun case.Separable case.InputShape
            use _b = builtS
            use _x = xS
            use _y = yS
            let wS = kerasWeights builtS
            let mid = naiveDepthwise2d (toArray4 xS) (toArray4 wS.["separable_conv2d/depthwise_kernel"]) None (1, 3) (1, 1) "valid"
            let biasS = wS.["separable_conv2d/bias"].detach().data<float32>().ToArray()
            Expect.isTrue (close (toArray4 yS) (naiveConv2d mid (toArray4 wS.["separable_conv2d/pointwise_kernel"]) (Some biasS) (1, 1) (1, 1) "valid")) "separable"
            // The modules guard themselves too, when called directly on the permuted (NCHW-strided, one-channel) batch.
            for built, x, y in [ builtD, xD, yD; builtS, xS, yS ] do
                use xNchw = x.permute(0L, 3L, 1L, 2L)
                use direct = built.BuiltLayers.[0].forward(xNchw)
                use directLast = direct.permute(0L, 2L, 3L, 1L)
                Expect.isTrue (directLast.allclose(y, 1e-5, 1e-6)) "module called directly"
            let _, builtC, xC, yC = buildAndRun (Conv2D(4, (4, 5), strides = (1, 3))) case.InputShape
            use _b = builtC
            use _x = xC
            use _y = yC
            use xNchw = xC.permute(0L, 3L, 1L, 2L)
            use direct = builtC.BuiltLayers.[0].forward(xNchw)
            use directLast = direct.permute(0L, 2L, 3L, 1L)
            Expect.isTrue (directLast.allclose(yC, 1e-5, 1e-6)) "Conv2D module called directly"
        }

        test "seeded kernels hold Keras's draw in Keras's layout even when in = depth multiplier (the layout passed, not guessed)" {
            torchReady 25
            let layers : Layer list =
                [ DepthwiseConv2D((3, 2), depthMultiplier = 4, depthwiseInitializer = RandomNormal(seed = 1))
                  SeparableConv2D(4, (2, 3), depthMultiplier = 4, depthwiseInitializer = RandomUniform(seed = 2), pointwiseInitializer = RandomNormal(seed = 3))
                  Conv2DTranspose(4, 3, kernelInitializer = RandomNormal(seed = 4)) ]
            for layer in layers do
                let model = Sequential(Input(6, 6, 4), layer)
                use built = BuiltNetwork.Build(model)
                for w, spec in Seq.zip built.Weights (model.Layers.[0].Parameters(Shape(6, 6, 4))) do
                    use view = w.KerasView()
                    use expected = InitializerSampling.Sample(spec.Initializer, spec.Shape.ToKnownArray())
                    Expect.isTrue (sameTensor (view.contiguous()) expected) (w.Name + " = the seeded draw")
        }

        test "Conv3DTranspose valid with stride > kernel zero-extends the end: those positions hold just the bias" {
            torchReady 19
            let layer = Conv3DTranspose(2, 1, strides = (3, 1, 1), biasInitializer = "ones")
            let model, built, x, y = buildAndRun layer (Shape(2, 2, 2, 1))
            use _b = built
            use _x = x
            use _y = y
            Expect.equal model.OutputShape (Shape(6, 2, 2, 2)) "(n−1)·s + max(k, s)"
            use tail = y.narrow(1L, 4L, 2L)
            Expect.isTrue (tail.eq(torch.ones_like tail).all().item<bool>()) "bias only"
        }
    ]
