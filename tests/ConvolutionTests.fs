/// Conv1D/2D/3D: the parameter formula and output-size laws on the pure records, the seeds' worked examples,
/// construction errors, and (separately) agreement of the built TorchSharp modules with all of it.
module Functional.Tests.ConvolutionTests

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

/// Same shape and exactly the same values.
let sameTensor (a: torch.Tensor) (b: torch.Tensor) =
    a.shape = b.shape && (use eq = a.eq(b) in use all = eq.all() in all.item<bool>())

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
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(c.InputShape.WithBatch 2L)
            use y = built.forward x
            let numel = built.parameters() |> Seq.sumBy (fun p -> p.numel())
            y.shape = model.OutputShape.WithBatch 2L && numel = model.ParameterCount)

        propertyWith torchConfig "built Conv2D (channels_last) computes what a naive TF-padding convolution computes" (Arb.fromGen (convCase 12 6)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 2
            let model = Sequential(Input(c.InputShape), c.Layer)
            use built = BuiltNetwork.Build(model)
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
            use a = BuiltNetwork.Build(last)
            use b = BuiltNetwork.Build(first)
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

/// A valid Conv1D case with groups: (filters, kernel, stride, dilation, groups, padding, steps, channels per group).
type Conv1DCase =
    { Filters: int; Kernel: int; Stride: int; Dilation: int; Groups: int; Padding: string; UseBias: bool; Steps: int; Channels: int }
    member c.Layer =
        Conv1D(c.Filters, IntTuple(c.Kernel), IntTuple(c.Stride), Padding.Parse c.Padding, dilationRate = IntTuple(c.Dilation),
               groups = c.Groups, useBias = c.UseBias)

let conv1dCase maxSteps =
    gen {
        let! groups = Gen.choose (1, 3)
        let! perGroupOut = Gen.choose (1, 3)
        let! perGroupIn = Gen.choose (1, 3)
        let! kernel = Gen.choose (1, 5)
        let! strided = Gen.elements [ true; false ]
        let! stride = if strided then Gen.choose (1, 3) else Gen.constant 1
        let! dilation = if strided then Gen.constant 1 else Gen.choose (1, 3)
        let! padding = Gen.elements [ "valid"; "same"; "causal" ]
        let! useBias = Gen.elements [ true; false ]
        let extent = (kernel - 1) * dilation + 1
        let! steps = Gen.choose (extent, max extent maxSteps)
        return { Filters = groups * perGroupOut; Kernel = kernel; Stride = stride; Dilation = dilation; Groups = groups
                 Padding = padding; UseBias = useBias; Steps = steps; Channels = groups * perGroupIn }
    }

/// Naive NLC Conv1D with groups: Keras kernel W[j, c, f] (c within the group), causal = all (k−1)·d padding before,
/// same = TF's split. Output t reads inputs t·s + j·d − before.
let naiveConv1d (x: float32[,,]) (kernel: float32[,,]) (bias: float32[] option) stride dilation groups (padding: string) =
    let n, len = Array3D.length1 x, Array3D.length2 x
    let k, cinG, cout = Array3D.length1 kernel, Array3D.length2 kernel, Array3D.length3 kernel
    let extent = (k - 1) * dilation + 1
    let outLen = if padding = "valid" then ceilDiv (len - extent + 1) stride else ceilDiv len stride
    let before =
        match padding with
        | "causal" -> (k - 1) * dilation
        | "same" -> (max ((outLen - 1) * stride + extent - len) 0) / 2
        | _ -> 0
    let outPerGroup = cout / groups
    Array3D.init n outLen cout (fun b t f ->
        let g = f / outPerGroup
        let mutable acc = match bias with Some bs -> bs.[f] | None -> 0.0f
        for j in 0 .. k - 1 do
            let pos = t * stride + j * dilation - before
            if pos >= 0 && pos < len then
                for c in 0 .. cinG - 1 do acc <- acc + x.[b, pos, g * cinG + c] * kernel.[j, c, f]
        acc)

let toArray3 (t: torch.Tensor) =
    let s = t.shape |> Array.map int
    let data = t.contiguous().cpu().data<float32>().ToArray()
    Array3D.init s.[0] s.[1] s.[2] (fun a b c -> data.[(a * s.[1] + b) * s.[2] + c])

[<Tests>]
let conv1d3dLaws =
    testList "Conv1D, Conv3D and groups" [
        propertyWith pureConfig "Conv1D output: causal and same give ⌈n/s⌉, valid ⌈(n − (k−1)d)/s⌉; params k·(in/groups)·filters + filters" (Arb.fromGen (conv1dCase 400)) (fun c ->
            let expected = if c.Padding = "valid" then ceilDiv (c.Steps - (c.Kernel - 1) * c.Dilation) c.Stride else ceilDiv c.Steps c.Stride
            let input = Shape(c.Steps, c.Channels)
            c.Layer.ComputeOutputShape input = Shape(expected, c.Filters)
            && c.Layer.ParameterCount input =
                   int64 c.Kernel * int64 (c.Channels / c.Groups) * int64 c.Filters + (if c.UseBias then int64 c.Filters else 0L))

        propertyWith pureConfig "Conv3D params = k1·k2·k3·(in/groups)·filters + filters; output by the conv length law per axis"
            (Arb.fromGen (gen {
                let! k = Gen.listOfLength 3 (Gen.choose (1, 4))
                let! s = Gen.listOfLength 3 (Gen.choose (1, 3))
                let! n = Gen.listOfLength 3 (Gen.choose (4, 60))
                let! groups = Gen.choose (1, 3)
                let! perIn = Gen.choose (1, 4)
                let! perOut = Gen.choose (1, 4)
                let! same = Gen.elements [ true; false ]
                return k, s, n, groups, perIn * groups, perOut * groups, same })) (fun (k, s, n, groups, cin, filters, same) ->
            let layer = Conv3D(filters, IntTuple(Array.ofList k), IntTuple(Array.ofList s), (if same then Padding.Same else Padding.Valid), groups = groups)
            let input = Shape(Array.ofList (n @ [ cin ]))
            let lengths = List.map3 (fun n k s -> if same then ceilDiv n s else ceilDiv (n - k + 1) s) n k s
            layer.ComputeOutputShape input = Shape(Array.ofList (lengths @ [ filters ]))
            && layer.ParameterCount input = int64 (List.reduce (*) k) * int64 (cin / groups) * int64 filters + int64 filters)

        test "Keras's conv_test shapes for Conv1D (incl. causal), Conv2D and Conv3D with groups" {
            let check (layer: Layer) (input: Shape) (output: Shape) = Expect.equal (layer.ComputeOutputShape input) output (string layer)
            check (Conv1D(5, 2)) (Shape(5, 4)) (Shape(4, 5))
            check (Conv1D(6, 2, padding = "same", dilationRate = IntTuple(2), groups = 2)) (Shape(4, 4)) (Shape(4, 6))
            check (Conv1D(6, 2, padding = "causal", dilationRate = IntTuple(2), groups = 2)) (Shape(4, 4)) (Shape(4, 6))
            check (Conv1D(6, 2, strides = IntTuple(2), groups = 2)) (Shape(5, 4)) (Shape(2, 6))
            check (Conv2D(6, (2, 2), strides = (2, 1), groups = 2)) (Shape(5, 5, 4)) (Shape(2, 4, 6))
            check (Conv3D(5, 2)) (Shape(5, 5, 5, 4)) (Shape(4, 4, 4, 5))
            check (Conv3D(6, 2, padding = "same", dilationRate = (2, 2, 2), groups = 2)) (Shape(4, 4, 4, 4)) (Shape(4, 4, 4, 6))
            check (Conv3D(6, (2, 2, 3), strides = (2, 1, 2), groups = 2)) (Shape(5, 5, 5, 4)) (Shape(2, 4, 2, 6))
            Expect.equal (Conv3D(6, (2, 2, 3), groups = 2).Parameters(Shape(5, 5, 5, 4)) |> Seq.map (fun p -> p.Shape) |> List.ofSeq)
                [ Shape(2, 2, 3, 2, 6); Shape(6) ] "grouped kernel (k…, in/groups, filters)"
        }

        test "channels that do not divide by groups name the layer, the shape and the channel axis" {
            throwsWith<ShapeException> [ "Conv1D"; "(None, 10, 5)"; "axis 2"; "groups=2" ] (fun () ->
                Conv1D(4, 3, groups = 2).ComputeOutputShape(Shape(10, 5)) |> ignore)
            throwsWith<ShapeException> [ "Conv3D"; "(None, 3, 4, 4, 4)"; "axis 1"; "groups=2" ] (fun () ->
                Conv3D(4, 3, groups = 2, dataFormat = "channels_first").ComputeOutputShape(Shape(3, 4, 4, 4)) |> ignore)
        }

        testSequenced <| propertyWith torchConfig "built Conv1D (valid/same/causal, strides, dilation, groups) computes the naive convolution" (Arb.fromGen (conv1dCase 16)) (fun c ->
            torchReady 21
            let model = Sequential(Input(c.Steps, c.Channels), c.Layer)
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(2L, int64 c.Steps, int64 c.Channels)
            use y = built.forward x
            let weights = built.Weights |> Seq.map (fun w -> w.Name, w.KerasView()) |> Map.ofSeq
            let bias = weights |> Map.tryFind "conv1d/bias" |> Option.map (fun b -> b.detach().cpu().data<float32>().ToArray())
            let expected = naiveConv1d (toArray3 x) (toArray3 weights.["conv1d/kernel"]) bias c.Stride c.Dilation c.Groups c.Padding
            y.shape = model.OutputShape.WithBatch 2L
            && Seq.forall2 (fun (a: float32) (e: float32) -> abs (a - e) <= 1e-4f * (1.0f + abs e))
                   (Seq.cast<float32> (toArray3 y)) (Seq.cast<float32> expected))

        testSequenced <| propertyWith torchConfig "causal Conv1D: changing input step p never changes an output t with t·s < p"
            (Arb.fromGen (gen {
                let! c = conv1dCase 16
                let! p = Gen.choose (0, 1000)
                return { c with Padding = "causal" }, p })) (fun (c, p0) ->
            torchReady 22
            let p = p0 % c.Steps
            let model = Sequential(Input(c.Steps, c.Channels), c.Layer)
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(2L, int64 c.Steps, int64 c.Channels)
            use x2 = x.clone()
            do
                use step = x2.narrow(1L, int64 p, 1L)
                step.add_(torch.ones_like step) |> ignore
            use y = built.forward x
            use y2 = built.forward x2
            let seen = [ 0 .. int y.shape.[1] - 1 ] |> List.filter (fun t -> t * c.Stride < p)
            seen |> List.forall (fun t ->
                use a = y.narrow(1L, int64 t, 1L)
                use b = y2.narrow(1L, int64 t, 1L)
                sameTensor a b))

        testSequenced <| test "one-channel channels_last inputs with an output axis of length 1 and stride > 1 (a libtorch CPU bug) match the naive convolution" {
            torchReady 24
            for stride, width in [ (1, 3), 6; (1, 2), 5; (2, 3), 6 ] do
                let model = Sequential(Input(8, width, 1), Conv2D(4, (4, 5), strides = stride))
                use built = BuiltNetwork.Build(model)
                use x = torch.randn(2L, 8L, int64 width, 1L)
                use y = built.forward x
                let weights = built.Weights |> Seq.map (fun w -> w.Name, w.KerasView()) |> Map.ofSeq
                let bias = weights.["conv2d/bias"].detach().cpu().data<float32>().ToArray()
                let expected = naiveConv2d (toArray4 x) (toArray4 weights.["conv2d/kernel"]) (Some bias) stride (1, 1) "valid"
                Expect.sequenceEqual (Seq.cast<float32> (toArray4 y) |> Seq.map (fun v -> MathF.Round(v, 4)))
                    (Seq.cast<float32> expected |> Seq.map (fun v -> MathF.Round(v, 4))) (sprintf "strides %A" stride)
            let model1 = Sequential(Input(6, 1), Conv1D(3, 5, strides = 3))
            use built1 = BuiltNetwork.Build(model1)
            use x1 = torch.randn(2L, 6L, 1L)
            use y1 = built1.forward x1
            let w1 = built1.Weights |> Seq.map (fun w -> w.Name, w.KerasView()) |> Map.ofSeq
            let expected1 = naiveConv1d (toArray3 x1) (toArray3 w1.["conv1d/kernel"]) (Some(w1.["conv1d/bias"].detach().data<float32>().ToArray())) 3 1 1 "valid"
            Expect.isTrue (Seq.forall2 (fun (a: float32) e -> abs (a - e) <= 1e-4f) (Seq.cast<float32> (toArray3 y1)) (Seq.cast<float32> expected1)) "Conv1D"
        }

        testSequenced <| test "built Conv3D: Keras's shapes, Σ numel = counted, channels_first ≡ channels_last with the same weights" {
            torchReady 23
            let last = Sequential(Input(5, 6, 4, 4), Conv3D(6, (2, 3, 2), strides = (2, 1, 2), padding = "same", groups = 2))
            let first = Sequential(Input(4, 5, 6, 4), Conv3D(6, (2, 3, 2), strides = (2, 1, 2), padding = "same", groups = 2, dataFormat = "channels_first"))
            use a = BuiltNetwork.Build(last)
            use b = BuiltNetwork.Build(first)
            Expect.equal last.OutputShape (Shape(3, 6, 2, 6)) "shape"
            Expect.equal (a.parameters() |> Seq.sumBy (fun p -> p.numel())) last.ParameterCount "numel"
            do
                use _ = torch.no_grad()
                for wa, wb in Seq.zip a.Weights b.Weights do wb.Parameter.copy_(wa.Parameter) |> ignore
            use x = torch.randn([| 2L; 5L; 6L; 4L; 4L |])
            use ya = a.forward x
            Expect.equal ya.shape (last.OutputShape.WithBatch 2L) "forward shape"
            use xb = x.permute(0L, 4L, 1L, 2L, 3L)
            use yb = b.forward xb
            use ybLast = yb.permute(0L, 2L, 3L, 4L, 1L)
            Expect.isTrue (ya.allclose(ybLast, 1e-5, 1e-6)) "same values"
        }
    ]
