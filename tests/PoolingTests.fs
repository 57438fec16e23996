/// MaxPooling: strides default to pool_size, output-size laws, the seed example, and agreement of the built module
/// with a naive TF-padding max pool.
module Functional.Tests.PoolingTests

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
open Functional.Tests.NaiveTensors

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
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(2L, int64 h, int64 w, int64 ch)
            use y = built.forward x
            let expected = naiveMaxPool (ConvolutionTests.toArray4 x) c.Pool (defaultArg c.Strides c.Pool) c.Padding
            y.shape = model.OutputShape.WithBatch 2L
            && Seq.forall2 (fun (a: float32) e -> a = e) (Seq.cast<float32> (ConvolutionTests.toArray4 y)) (Seq.cast<float32> expected))
    ]

// ---- every window pooling layer (Max/Average × 1D/2D/3D) and the global pooling layers ----

/// A window pooling case in any rank, for max or average, in either data format.
type WindowCase =
    { Average: bool; Pool: int[]; Strides: int[] option; Padding: string; Spatial: int[]; Channels: int; ChannelsLast: bool }
    member c.Rank = c.Pool.Length
    member c.Format = if c.ChannelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
    member c.Layer : Pooling =
        let pool, padding, fmt = IntTuple(c.Pool), Padding.Parse c.Padding, c.Format
        let strides = match c.Strides with Some s -> IntTuple(s) | None -> IntTuple()
        match c.Average, c.Rank with
        | false, 1 -> MaxPooling1D(pool, strides, padding, fmt)
        | false, 2 -> MaxPooling2D(pool, strides, padding, fmt)
        | false, _ -> MaxPooling3D(pool, strides, padding, fmt)
        | true, 1 -> AveragePooling1D(pool, strides, padding, fmt)
        | true, 2 -> AveragePooling2D(pool, strides, padding, fmt)
        | true, _ -> AveragePooling3D(pool, strides, padding, fmt)
    /// The same layer with the pool size only (strides left to their default).
    member c.DefaultStridesLayer : Pooling =
        let pool = IntTuple(c.Pool)
        match c.Average, c.Rank with
        | false, 1 -> MaxPooling1D(pool)
        | false, 2 -> MaxPooling2D(pool)
        | false, _ -> MaxPooling3D(pool)
        | true, 1 -> AveragePooling1D(pool)
        | true, 2 -> AveragePooling2D(pool)
        | true, _ -> AveragePooling3D(pool)
    member c.InputShape =
        if c.ChannelsLast then Shape(Array.append c.Spatial [| c.Channels |]) else Shape(Array.append [| c.Channels |] c.Spatial)
    member c.EffectiveStrides = defaultArg c.Strides c.Pool
    member c.ExpectedSpatial =
        Array.init c.Rank (fun i ->
            let n, p, s = c.Spatial.[i], c.Pool.[i], c.EffectiveStrides.[i]
            if c.Padding = "same" then ceilDiv n s else (n - p) / s + 1)

let windowCase maxRank maxSide maxPool =
    gen {
        let! average = Gen.elements [ true; false ]
        let! rank = Gen.choose (1, maxRank)
        let! pool = Gen.arrayOfLength rank (Gen.choose (1, maxPool))
        let! explicitStrides = Gen.elements [ true; false ]
        let! strides = Gen.arrayOfLength rank (Gen.choose (1, maxPool))
        let! padding = Gen.elements [ "valid"; "same" ]
        let! spatial =
            pool |> Array.map (fun p -> Gen.choose ((if padding = "same" then 1 else p), max p maxSide)) |> Gen.sequenceToArray
        let! channels = Gen.choose (1, 5)
        let! channelsLast = Gen.elements [ true; false ]
        return { Average = average; Pool = pool; Strides = (if explicitStrides then Some strides else None); Padding = padding
                 Spatial = spatial; Channels = channels; ChannelsLast = channelsLast }
    }

type GlobalCase =
    { Average: bool; Spatial: int[]; Channels: int; ChannelsLast: bool; Keepdims: bool }
    member c.Rank = c.Spatial.Length
    member c.Format = if c.ChannelsLast then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
    member c.Layer : GlobalPooling =
        match c.Average, c.Rank with
        | false, 1 -> GlobalMaxPooling1D(c.Format, c.Keepdims)
        | false, 2 -> GlobalMaxPooling2D(c.Format, c.Keepdims)
        | false, _ -> GlobalMaxPooling3D(c.Format, c.Keepdims)
        | true, 1 -> GlobalAveragePooling1D(c.Format, c.Keepdims)
        | true, 2 -> GlobalAveragePooling2D(c.Format, c.Keepdims)
        | true, _ -> GlobalAveragePooling3D(c.Format, c.Keepdims)
    member c.InputShape =
        if c.ChannelsLast then Shape(Array.append c.Spatial [| c.Channels |]) else Shape(Array.append [| c.Channels |] c.Spatial)

let globalCase maxSide =
    gen {
        let! average = Gen.elements [ true; false ]
        let! rank = Gen.choose (1, 3)
        let! spatial = Gen.arrayOfLength rank (Gen.choose (1, maxSide))
        let! channels = Gen.choose (1, 6)
        let! channelsLast = Gen.elements [ true; false ]
        let! keepdims = Gen.elements [ true; false ]
        return { Average = average; Spatial = spatial; Channels = channels; ChannelsLast = channelsLast; Keepdims = keepdims }
    }

/// channels_last per-sample dims → channels_first per-sample dims.
let toChannelsFirst (dims: int[]) = Array.append [| dims.[dims.Length - 1] |] dims.[.. dims.Length - 2]

/// Naive window pooling over a channels_last tensor (batch, spatial…, channels) with TF same padding:
/// max over the real elements of each window, or their mean (padding is never counted).
let naivePool average (shape: int[]) (data: float32[]) (pool: int[]) (strides: int[]) (padding: string) =
    let rank = pool.Length
    let n = shape.[1..rank]
    let outs = Array.init rank (fun i -> if padding = "same" then ceilDiv n.[i] strides.[i] else (n.[i] - pool.[i]) / strides.[i] + 1)
    let before = Array.init rank (fun i -> if padding = "same" then (max ((outs.[i] - 1) * strides.[i] + pool.[i] - n.[i]) 0) / 2 else 0)
    let outShape = Array.concat [ [| shape.[0] |]; outs; [| shape.[rank + 1] |] ]
    let windowSize = Array.fold (*) 1 pool
    let values =
        Array.init (Array.fold (*) 1 outShape) (fun k ->
            let o = unravel outShape k
            let mutable best = Single.NegativeInfinity
            let mutable sum = 0.0
            let mutable count = 0
            for w in 0 .. windowSize - 1 do
                let off = unravel pool w
                let pos = Array.init rank (fun i -> o.[i + 1] * strides.[i] - before.[i] + off.[i])
                if Array.forall2 (fun p len -> p >= 0 && p < len) pos n then
                    let v = data.[ravel shape (Array.concat [ [| o.[0] |]; pos; [| o.[rank + 1] |] ])]
                    best <- max best v
                    sum <- sum + float v
                    count <- count + 1
            if average then float32 (sum / float count) else best)
    outShape, values

/// Naive global pooling over a channels_last tensor: (batch, channels) means or maxima.
let naiveGlobal average (shape: int[]) (data: float32[]) =
    let b, c = shape.[0], shape.[shape.Length - 1]
    let positions = Array.fold (*) 1 shape.[1 .. shape.Length - 2]
    Array.init (b * c) (fun k ->
        let bi, ci = k / c, k % c
        let vs = Array.init positions (fun p -> data.[(bi * positions + p) * c + ci])
        if average then float32 (Array.averageBy float vs) else Array.max vs)

let channelsFirstPerm rank = [| 0L; int64 rank + 1L; yield! [ 1L .. int64 rank ] |]
let channelsLastPerm rank = [| 0L; yield! [ 2L .. int64 rank + 1L ]; 1L |]

[<Tests>]
let poolingPureLaws =
    testList "Pooling (pure)" [
        propertyWith pureConfig "every window pooling layer: strides default to pool_size" (Arb.fromGen (windowCase 3 64 8)) (fun c ->
            c.DefaultStridesLayer.Strides = IntTuple(c.Pool))

        propertyWith pureConfig "every window pooling layer: valid floor((n-p)/s)+1, same ceil(n/s), channels kept, either format" (Arb.fromGen (windowCase 3 300 8)) (fun c ->
            let expected =
                if c.ChannelsLast then Array.append c.ExpectedSpatial [| c.Channels |] else Array.append [| c.Channels |] c.ExpectedSpatial
            c.Layer.ComputeOutputShape c.InputShape = Shape expected)

        propertyWith pureConfig "channels_first shapes are channels_last shapes transposed" (Arb.fromGen (windowCase 3 100 8)) (fun c0 ->
            let last = { c0 with ChannelsLast = true }
            let first = { c0 with ChannelsLast = false }
            first.Layer.ComputeOutputShape(first.InputShape) = Shape(toChannelsFirst ((last.Layer.ComputeOutputShape last.InputShape).ToKnownArray())))

        propertyWith pureConfig "pooling layers have no parameters" (Arb.fromGen (windowCase 3 64 8)) (fun c ->
            c.Layer.ParameterCount c.InputShape = 0L
            && (let g = { Average = c.Average; Spatial = c.Spatial; Channels = c.Channels; ChannelsLast = c.ChannelsLast; Keepdims = c.Average }
                g.Layer.ParameterCount g.InputShape = 0L))

        propertyWith pureConfig "global pooling: (channels,), or keepdims with every spatial axis 1; channels_first transposes" (Arb.fromGen (globalCase 200)) (fun c ->
            let out = c.Layer.ComputeOutputShape c.InputShape
            let ones = Array.create c.Rank 1
            out = (if not c.Keepdims then Shape c.Channels
                   elif c.ChannelsLast then Shape(Array.append ones [| c.Channels |])
                   else Shape(Array.append [| c.Channels |] ones)))

        test "Keras average_pooling_test shapes (batch dropped)" {
            let check (layer: Layer) (input: int list) (output: int list) =
                Expect.equal (layer.ComputeOutputShape(Shape(Array.ofList input))) (Shape(Array.ofList output)) (sprintf "%A on %A" layer input)
            check (AveragePooling1D(2, 1, "valid", "channels_last")) [ 5; 4 ] [ 4; 4 ]
            check (AveragePooling1D(2, 1, "same", "channels_first")) [ 5; 4 ] [ 5; 4 ]
            check (AveragePooling1D(IntTuple [| 2 |], IntTuple [| 2 |], "valid", "channels_last")) [ 5; 4 ] [ 2; 4 ]
            check (AveragePooling2D(2, 1, "valid", "channels_last")) [ 5; 5; 4 ] [ 4; 4; 4 ]
            check (AveragePooling2D(2, 1, "same", "channels_last")) [ 5; 5; 4 ] [ 5; 5; 4 ]
            check (AveragePooling2D(2, 1, "valid", "channels_first")) [ 5; 5; 4 ] [ 5; 4; 3 ]
            check (AveragePooling2D(2, 1, "same", "channels_first")) [ 5; 5; 4 ] [ 5; 5; 4 ]
            check (AveragePooling2D((2, 3), (2, 2), "valid", "channels_last")) [ 5; 5; 4 ] [ 2; 2; 4 ]
            check (AveragePooling2D((2, 3), (2, 2), "same", "channels_last")) [ 5; 5; 4 ] [ 3; 3; 4 ]
            check (AveragePooling3D(2, 1, "valid", "channels_last")) [ 5; 5; 5; 4 ] [ 4; 4; 4; 4 ]
            check (AveragePooling3D(2, 1, "same", "channels_first")) [ 5; 5; 5; 4 ] [ 5; 5; 5; 4 ]
            check (AveragePooling3D((2, 3, 2), (2, 2, 1), "valid", "channels_last")) [ 5; 5; 5; 4 ] [ 2; 2; 4; 4 ]
        }

        test "Keras global_average_pooling_test and global_max_pooling_test shapes (batch dropped)" {
            let cases : (DataFormat -> bool -> GlobalPooling) list =
                [ (fun f k -> GlobalAveragePooling1D(f, k)); (fun f k -> GlobalMaxPooling1D(f, k)) ]
            for make in cases do
                Expect.equal ((make DataFormat.ChannelsLast false).ComputeOutputShape(Shape(5, 4))) (Shape 4) "1D last"
                Expect.equal ((make DataFormat.ChannelsLast true).ComputeOutputShape(Shape(5, 4))) (Shape(1, 4)) "1D keepdims"
                Expect.equal ((make DataFormat.ChannelsFirst false).ComputeOutputShape(Shape(5, 4))) (Shape 5) "1D first"
            for make in [ (fun f k -> GlobalAveragePooling2D(f, k) :> GlobalPooling); (fun f k -> GlobalMaxPooling2D(f, k)) ] do
                Expect.equal ((make DataFormat.ChannelsLast false).ComputeOutputShape(Shape(5, 6, 4))) (Shape 4) "2D last"
                Expect.equal ((make DataFormat.ChannelsLast true).ComputeOutputShape(Shape(5, 6, 4))) (Shape(1, 1, 4)) "2D keepdims"
                Expect.equal ((make DataFormat.ChannelsFirst false).ComputeOutputShape(Shape(5, 6, 4))) (Shape 5) "2D first"
            for make in [ (fun f k -> GlobalAveragePooling3D(f, k) :> GlobalPooling); (fun f k -> GlobalMaxPooling3D(f, k)) ] do
                Expect.equal ((make DataFormat.ChannelsLast false).ComputeOutputShape(Shape(5, 6, 5, 4))) (Shape 4) "3D last"
                Expect.equal ((make DataFormat.ChannelsLast true).ComputeOutputShape(Shape(5, 6, 5, 4))) (Shape(1, 1, 1, 4)) "3D keepdims"
                Expect.equal ((make DataFormat.ChannelsFirst false).ComputeOutputShape(Shape(5, 6, 5, 4))) (Shape 5) "3D first"
        }

        test "Keras defaults, class names and default names" {
            let g = GlobalAveragePooling2D()
            Expect.equal g.DataFormat DataFormat.ChannelsLast "data format"
            Expect.isFalse g.Keepdims "keepdims"
            Expect.equal (AveragePooling2D(3).Strides) (IntTuple(3, 3)) "strides = pool size"
            Expect.equal (AveragePooling1D(3).Padding) Padding.Valid "padding"
            Expect.equal (AveragePooling2D(2).DefaultNameStem) "average_pooling2d" "avg stem"
            Expect.equal (GlobalMaxPooling1D().DefaultNameStem) "global_max_pooling1d" "gmp stem"
            Expect.equal (GlobalAveragePooling3D().ClassName) "GlobalAveragePooling3D" "class name"
            Expect.equal (GlobalMaxPooling2D(keepdims = true)) (GlobalMaxPooling2D("channels_last", true)) "value equality"
        }

        test "bad arguments and shapes are rejected naming the layer, the argument or the shape" {
            throwsWith<ArgumentException> [ "AveragePooling2D"; "poolSize"; "(0, 2)" ] (fun () -> AveragePooling2D((0, 2)) |> ignore)
            throwsWith<ArgumentException> [ "AveragePooling3D"; "poolSize"; "(2, 2)" ] (fun () -> AveragePooling3D((2, 2)) |> ignore)
            throwsWith<ArgumentException> [ "AveragePooling1D"; "strides"; "0" ] (fun () -> AveragePooling1D(2, 0) |> ignore)
            throwsWith<ArgumentException> [ "AveragePooling1D"; "padding"; "'causal'" ] (fun () -> AveragePooling1D(2, padding = "causal") |> ignore)
            throwsWith<ArgumentException> [ "data_format"; "'channels_middle'" ] (fun () -> GlobalAveragePooling2D("channels_middle") |> ignore)
            throwsWith<ShapeException> [ "AveragePooling2D"; "(None, 5, 1, 3)"; "axis 2" ] (fun () ->
                AveragePooling2D(2).ComputeOutputShape(Shape(5, 1, 3)) |> ignore)
            throwsWith<ShapeException> [ "GlobalAveragePooling2D"; "(None, 5, 4)"; "rank 3"; "got rank 2" ] (fun () ->
                GlobalAveragePooling2D().ComputeOutputShape(Shape(5, 4)) |> ignore)
            throwsWith<ShapeException> [ "GlobalMaxPooling1D"; "rank 2"; "got rank 3" ] (fun () ->
                GlobalMaxPooling1D().ComputeOutputShape(Shape(5, 4, 3)) |> ignore)
        }
    ]

[<Tests>]
let poolingTorchLaws =
    testSequenced <| testList "Pooling (TorchSharp)" [
        propertyWith torchConfig "built window pooling (max/average, 1-3D) = naive TF pooling in shape and values" (Arb.fromGen (windowCase 3 7 4)) (fun c0 ->
            let c = { c0 with ChannelsLast = true }
            torchReady 21
            let model = Sequential(Input(c.InputShape), c.Layer)
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(c.InputShape.WithBatch 2L)
            use y = built.forward x
            let outShape, expected = naivePool c.Average (dimsOf x) (flat x) c.Pool c.EffectiveStrides c.Padding
            y.shape = model.OutputShape.WithBatch 2L && dimsOf y = outShape && close (flat y) expected)

        propertyWith torchConfig "built window pooling: channels_first = channels_last under transposition" (Arb.fromGen (windowCase 3 7 4)) (fun c0 ->
            let last = { c0 with ChannelsLast = true }
            let first = { c0 with ChannelsLast = false }
            torchReady 22
            use a = BuiltNetwork.Build(Sequential(Input(last.InputShape), last.Layer))
            use b = BuiltNetwork.Build(Sequential(Input(first.InputShape), first.Layer))
            use x = torch.randn(last.InputShape.WithBatch 2L)
            use ya = a.forward x
            use xb = x.permute(channelsFirstPerm c0.Rank)
            use yb = b.forward xb
            use ybLast = yb.permute(channelsLastPerm c0.Rank)
            ya.shape = ybLast.shape && close (flat ya) (flat ybLast))

        propertyWith torchConfig "built global pooling = naive mean/max per channel, in either format, with keepdims" (Arb.fromGen (globalCase 5)) (fun c ->
            torchReady 23
            let model = Sequential(Input(c.InputShape), c.Layer)
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(c.InputShape.WithBatch 2L)
            use y = built.forward x
            use xLast = if c.ChannelsLast then x.alias() else x.permute(channelsLastPerm c.Rank)
            let expected = naiveGlobal c.Average (dimsOf xLast) (flat xLast)
            y.shape = model.OutputShape.WithBatch 2L && close (flat y) expected)

        test "TF same average pooling divides by the real elements: Keras's docstring examples" {
            torchReady 24
            let run (layer: Layer) (dims: int list) (values: float32[]) =
                let model = Sequential(Input(Array.ofList dims), layer)
                use built = BuiltNetwork.Build(model)
                use x = tensorOf values [| yield 1L; yield! dims |> List.map int64 |]
                use y = built.forward x
                flat y
            // AveragePooling1D(2, strides 1, same) on [1..5]: the last window holds only 5 (PyTorch's count_include_pad would give 2.5).
            Expect.equal (run (AveragePooling1D(2, 1, "same")) [ 5; 1 ] [| 1.f; 2.f; 3.f; 4.f; 5.f |]) [| 1.5f; 2.5f; 3.5f; 4.5f; 5.f |] "1D same"
            Expect.equal (run (AveragePooling1D(2, 1, "valid")) [ 5; 1 ] [| 1.f; 2.f; 3.f; 4.f; 5.f |]) [| 1.5f; 2.5f; 3.5f; 4.5f |] "1D valid"
            Expect.equal (run (AveragePooling1D(2, 2, "valid")) [ 5; 1 ] [| 1.f; 2.f; 3.f; 4.f; 5.f |]) [| 1.5f; 3.5f |] "1D valid stride 2"
            // AveragePooling2D((2, 2), strides (1, 1), same) on [[1, 2, 3], [4, 5, 6], [7, 8, 9]].
            Expect.equal (run (AveragePooling2D((2, 2), (1, 1), "same")) [ 3; 3; 1 ] (Array.init 9 (fun i -> float32 (i + 1))))
                [| 3.f; 4.f; 4.5f; 6.f; 7.f; 7.5f; 7.5f; 8.5f; 9.f |] "2D same"
            // GlobalAveragePooling1D on arange(24).reshape(2, 3, 4): channel means over 3 steps.
            Expect.equal (run (GlobalAveragePooling1D()) [ 3; 4 ] (Array.init 12 float32)) [| 4.f; 5.f; 6.f; 7.f |] "GAP1D"
            Expect.equal (run (GlobalMaxPooling1D(keepdims = true)) [ 3; 4 ] (Array.init 12 float32)) [| 8.f; 9.f; 10.f; 11.f |] "GMP1D keepdims"
        }

        test "a global pooling head after channels_last convolutions: GAP2D then Dense" {
            torchReady 25
            let model = Sequential(Input(9, 9, 3), Conv2D(4, 3, padding = "same"), AveragePooling2D(2, padding = "same"),
                                   GlobalAveragePooling2D(keepdims = true), Flatten(), Dense(2))
            Expect.equal model.OutputShape (Shape 2) "output shape"
            use built = BuiltNetwork.Build(model)
            use x = torch.randn(5L, 9L, 9L, 3L)
            use y = built.forward x
            Expect.equal (dimsOf y) [| 5; 2 |] "forward shape"
        }
    ]

/// Keras's pooling aliases (`MaxPool2D` is `MaxPooling2D`, …) in C# (LayerAliases) and in the F# DSL.
[<Tests>]
let aliases =
    let casesGen = gen {
        let! pool = Gen.choose (1, 4)
        let! stride = Gen.choose (1, 4)
        let! padding = Gen.elements [ Padding.Valid; Padding.Same ]
        let! format = Gen.elements [ DataFormat.ChannelsLast; DataFormat.ChannelsFirst ]
        let! keepdims = Gen.elements [ true; false ]
        return pool, stride, padding, format, keepdims }
    testList "Pooling aliases (Keras's other names)" [
        propertyWith pureConfig "the C# aliases and the DSL's make the very records of the canonical names" (Arb.fromGen casesGen) (fun (p, s, pad, f, k) ->
            let pairs: (Layer * Layer * Layer) list =
                [ LayerAliases.MaxPool1D(p, s, pad, f), MaxPooling1D(p, s, pad, f), FSharp.Layers.maxPool1d (p, s, pad, f)
                  LayerAliases.MaxPool2D(p, s, pad, f), MaxPooling2D(p, s, pad, f), FSharp.Layers.maxPool2d (p, s, pad, f)
                  LayerAliases.MaxPool3D(p, s, pad, f), MaxPooling3D(p, s, pad, f), FSharp.Layers.maxPool3d (p, s, pad, f)
                  LayerAliases.AvgPool1D(p, s, pad, f), AveragePooling1D(p, s, pad, f), FSharp.Layers.avgPool1d (p, s, pad, f)
                  LayerAliases.AvgPool2D(p, s, pad, f), AveragePooling2D(p, s, pad, f), FSharp.Layers.avgPool2d (p, s, pad, f)
                  LayerAliases.AvgPool3D(p, s, pad, f), AveragePooling3D(p, s, pad, f), FSharp.Layers.avgPool3d (p, s, pad, f)
                  LayerAliases.GlobalMaxPool1D(f, k), GlobalMaxPooling1D(f, k), FSharp.Layers.globalMaxPool1d (f, k)
                  LayerAliases.GlobalMaxPool2D(f, k), GlobalMaxPooling2D(f, k), FSharp.Layers.globalMaxPool2d (f, k)
                  LayerAliases.GlobalMaxPool3D(f, k), GlobalMaxPooling3D(f, k), FSharp.Layers.globalMaxPool3d (f, k)
                  LayerAliases.GlobalAvgPool1D(f, k), GlobalAveragePooling1D(f, k), FSharp.Layers.globalAvgPool1d (f, k)
                  LayerAliases.GlobalAvgPool2D(f, k), GlobalAveragePooling2D(f, k), FSharp.Layers.globalAvgPool2d (f, k)
                  LayerAliases.GlobalAvgPool3D(f, k), GlobalAveragePooling3D(f, k), FSharp.Layers.globalAvgPool3d (f, k) ]
            pairs |> List.forall (fun (alias, canonical, dsl) -> alias = canonical && dsl = canonical && alias.ClassName = canonical.GetType().Name))

        test "an alias keeps Keras's defaults, names and config: the canonical class name is what is written" {
            Expect.equal (LayerAliases.MaxPool2D()) (MaxPooling2D()) "defaults"
            Expect.equal (FSharp.Layers.maxPool2d (2, name = "p", trainable = false)) (MaxPooling2D(2, Name = "p", Trainable = false) :> Layer) "name and trainable"
            let model = Sequential(Input(8, 8, 3), LayerAliases.MaxPool2D(2), LayerAliases.GlobalAvgPool2D())
            Expect.equal [ for l in model.Layers -> l.Name ] [ "max_pooling2d"; "global_average_pooling2d" ] "Keras's default names of the class"
            let json = model.ToJson()
            Expect.stringContains json "\"MaxPooling2D\"" "the canonical class name"
            Expect.isFalse (json.Contains "MaxPool2D\"") "no alias written"
        }

        test "every C# alias is one the config reader knows, for the same class" {
            let known = LayerConfig.KnownAliases
            for m in typeof<LayerAliases>.GetMethods(Reflection.BindingFlags.Public ||| Reflection.BindingFlags.Static) do
                Expect.equal (known.TryGetValue m.Name |> function | true, c -> Some c | _ -> None) (Some m.ReturnType.Name) m.Name
        }
    ]
