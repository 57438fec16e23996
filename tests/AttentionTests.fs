/// EinsumDense, MultiHeadAttention, Attention and AdditiveAttention against Keras: the docs' worked examples (shapes),
/// weight names and counts, and naive float64 references of Keras's equations (plain arrays and loops) with the query,
/// value and attention masks and the causal mask.
module Functional.Tests.AttentionTests

open System
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

type private G = Functional.Models.Graph

let private doubles (t: torch.Tensor) = t.contiguous().cpu().to_type(torch.ScalarType.Float64).data<float>().ToArray()
let private weightOf (net: BuiltNetwork) name = (net.Weights |> Seq.find (fun w -> w.Name = name)).KerasView() |> doubles
let private float64 f = using (DTypePolicy.Use(DTypePolicy.Float64)) (fun _ -> f ())
/// A float64 model input.
let private input64 (dims: int list) = float64 (fun () -> G.Input(Array.ofList dims))

/// Random float64 data of a shape whose listed (batch, step) rows are all zero, so Masking(0) masks them.
let private dataWithZeroRows (gen: Random) (b: int) (t: int) (d: int) (zero: (int * int) list) =
    Array.init (b * t * d) (fun i ->
        let bi, ti = i / (t * d), (i / d) % t
        if List.contains (bi, ti) zero then 0.0 else gen.NextDouble() * 2.0 - 1.0)

let private tensor (data: float[]) (dims: int64 list) = torch.tensor(data).reshape(Array.ofList dims)

let private close (tol: float) (actual: float[]) (expected: float[]) =
    actual.Length = expected.Length && Array.forall2 (fun (a: float) e -> abs (a - e) <= tol * (1.0 + abs e)) actual expected

/// Keras's masked softmax over the last axis of a row: −1e9 where masked, then 0 there after it.
let private maskedSoftmax (row: float[]) (keep: bool[]) =
    let x = Array.map2 (fun v k -> if k then v else -1e9) row keep
    let m = Array.max x
    let e = x |> Array.map (fun v -> exp (v - m))
    let s = Array.sum e
    Array.map2 (fun v k -> if k then v / s else 0.0) e keep

/// Naive Keras MultiHeadAttention for rank-3 inputs (default attention axes): returns (output (B,T,O), scores (B,N,T,S)).
let naiveMha (q: float[]) (v: float[]) (b, t, s, d, dv) (n, h, hv, o)
             (wq: float[]) (bq: float[]) (wk: float[]) (bk: float[]) (wv: float[]) (bv: float[]) (wo: float[]) (bo: float[])
             (mask: int -> int -> int -> bool) =
    // Q[b,t,n,h] = Σ_d q[b,t,d]·Wq[d,n,h] + bq[n,h]
    let project (x: float[]) steps dim (w: float[]) (bias: float[]) heads size =
        Array.init (b * steps * heads * size) (fun i ->
            let bi, ti, ni, hi = i / (steps * heads * size), (i / (heads * size)) % steps, (i / size) % heads, i % size
            let mutable acc = bias.[ni * size + hi]
            for di in 0 .. dim - 1 do acc <- acc + x.[(bi * steps + ti) * dim + di] * w.[(di * heads + ni) * size + hi]
            acc)
    let qp = project q t d wq bq n h
    let kp = project v s dv wk bk n h
    let vp = project v s dv wv bv n hv
    let scores = Array.zeroCreate (b * n * t * s)
    for bi in 0 .. b - 1 do
        for ni in 0 .. n - 1 do
            for ti in 0 .. t - 1 do
                let logits =
                    Array.init s (fun si ->
                        let mutable acc = 0.0
                        for hi in 0 .. h - 1 do
                            acc <- acc + qp.[((bi * t + ti) * n + ni) * h + hi] / sqrt (float h) * kp.[((bi * s + si) * n + ni) * h + hi]
                        acc)
                let p = maskedSoftmax logits (Array.init s (fun si -> mask bi ti si))
                Array.blit p 0 scores (((bi * n + ni) * t + ti) * s) s
    let out =
        Array.init (b * t * o) (fun i ->
            let bi, ti, oi = i / (t * o), (i / o) % t, i % o
            let mutable acc = bo.[oi]
            for ni in 0 .. n - 1 do
                for hvi in 0 .. hv - 1 do
                    let mutable c = 0.0
                    for si in 0 .. s - 1 do c <- c + scores.[((bi * n + ni) * t + ti) * s + si] * vp.[((bi * s + si) * n + ni) * hv + hvi]
                    acc <- acc + c * wo.[(ni * hv + hvi) * o + oi]
            acc)
    out, scores

let private einsumTests =
    testList "EinsumDense" [
        test "Keras's docstring examples: shapes of output, kernel and bias" {
            let check (layer: EinsumDense) (input: Shape) (output: Shape) (kernel: int list) (bias: int list option) =
                Expect.equal (layer.ComputeOutputShape input) output (sprintf "%s output" layer.Equation)
                let specs = layer.Parameters input |> List.ofSeq
                Expect.equal (specs |> List.map (fun p -> p.Name)) ([ "kernel" ] @ (if bias.IsSome then [ "bias" ] else [])) "weight names"
                Expect.equal (List.ofArray (specs.[0].Shape.ToKnownArray())) kernel "kernel shape"
                bias |> Option.iter (fun bs -> Expect.equal (List.ofArray (specs.[1].Shape.ToKnownArray())) bs "bias shape")
            // keras.layers.EinsumDense("ab,bc->ac", output_shape=64, bias_axes="c") on Input([32]) → (None, 64)
            check (EinsumDense("ab,bc->ac", Shape 64, biasAxes = "c")) (Shape 32) (Shape 64) [ 32; 64 ] (Some [ 64 ])
            // "abc,cd->abd", output_shape=(None, 64), bias_axes="d" on Input([32, 128]) → (None, 32, 64)
            check (EinsumDense("abc,cd->abd", Shape([| Nullable(); Nullable 64 |]), biasAxes = "d")) (Shape(32, 128)) (Shape(32, 64)) [ 128; 64 ] (Some [ 64 ])
            // "...x,xy->...y", output_shape=64, bias_axes="y" on Input([32, 128]) → (None, 32, 64)
            check (EinsumDense("...x,xy->...y", Shape 64, biasAxes = "y")) (Shape(32, 128)) (Shape(32, 64)) [ 128; 64 ] (Some [ 64 ])
            // Keras's test "_3d_bert": "abc,cde->abde" on (2, 1, 2) with output_shape (1, 3, 4): kernel (2, 3, 4)
            check (EinsumDense("abc,cde->abde", Shape(1, 3, 4))) (Shape(1, 2)) (Shape(1, 3, 4)) [ 2; 3; 4 ] None
            // A right ellipsis: the elided axes follow the output, and the bias gets a 1 for each.
            check (EinsumDense("ab...,bc->ac...", Shape 64, biasAxes = "c")) (Shape(32, 5)) (Shape(64, 5)) [ 32; 64 ] (Some [ 64; 1 ])
            // A bias over a middle axis spans from its first letter to the end, 1 on the others.
            check (EinsumDense("abc,cde->abde", Shape([| Nullable(); Nullable 3; Nullable 4 |]), biasAxes = "d")) (Shape(7, 2)) (Shape(7, 3, 4)) [ 2; 3; 4 ] (Some [ 3; 1 ])
            // Unknown sequence length stays unknown.
            check (EinsumDense("abc,cd->abd", Shape([| Nullable(); Nullable 64 |]), biasAxes = "d")) (Shape([| Nullable(); Nullable 128 |]))
                (Shape([| Nullable(); Nullable 64 |])) [ 128; 64 ] (Some [ 64 ])
        }

        test "bad equations, bias axes and shapes are refused naming the layer, argument and value" {
            throwsWith<ArgumentException> [ "EinsumDense"; "equation"; "'ab,bc'" ] (fun () -> EinsumDense("ab,bc", Shape 3) |> ignore)
            throwsWith<ArgumentException> [ "EinsumDense"; "equation" ] (fun () -> EinsumDense("ab,bc->az", Shape 3) |> ignore)
            throwsWith<ArgumentException> [ "EinsumDense"; "biasAxes"; "'z'" ] (fun () -> EinsumDense("ab,bc->ac", Shape 3, biasAxes = "z") |> ignore)
            throwsWith<ShapeException> [ "EinsumDense"; "shared dimension 'b'" ] (fun () -> EinsumDense("abc,cd->abd", Shape(5, 3)).ComputeOutputShape(Shape(4, 2)) |> ignore)
            throwsWith<ShapeException> [ "EinsumDense"; "rank 2" ] (fun () -> EinsumDense("ab,bc->ac", Shape 3).ComputeOutputShape(Shape(4, 2)) |> ignore)
            throwsWith<ShapeException> [ "EinsumDense"; "kernel" ] (fun () -> EinsumDense("ab,bc->ac", Shape 3).Parameters(Shape([| Nullable<int>() |])) |> ignore)
        }

        test "built: einsum + bias + activation equals a naive float64 loop" {
            torchReady 41
            let layer = float64 (fun () -> EinsumDense("abc,cde->abde", Shape([| Nullable(); Nullable 3; Nullable 2 |]), activation = "relu", biasAxes = "de", Name = "ed"))
            let x = input64 [ 4; 5 ]
            use net = BuiltNetwork.Build(Model(x, layer.Call(x)))
            let gen = Random(3)
            let xs = Array.init (2 * 4 * 5) (fun _ -> gen.NextDouble() - 0.5)
            use y = net.Predict(tensor xs [ 2L; 4L; 5L ])
            let w, bias = weightOf net "ed/kernel", weightOf net "ed/bias"
            Expect.equal (y.shape) [| 2L; 4L; 3L; 2L |] "output shape"
            let expected =
                Array.init (2 * 4 * 3 * 2) (fun i ->
                    let a, b, d, e = i / 24, (i / 6) % 4, (i / 2) % 3, i % 2
                    let mutable acc = bias.[d * 2 + e]
                    for c in 0 .. 4 do acc <- acc + xs.[(a * 4 + b) * 5 + c] * w.[(c * 3 + d) * 2 + e]
                    max acc 0.0)
            Expect.isTrue (close 1e-12 (doubles y) expected) "relu(einsum + bias)"
        }

        test "config round trip with an unknown output dimension, and the summary's parameter count" {
            let layer = EinsumDense("abc,cd->abd", Shape([| Nullable(); Nullable 64 |]), biasAxes = "d", Name = "einsum")
            let json = LayerConfig.ToJson(layer, false)
            Expect.stringContains json "\"output_shape\":[null,64]" "Keras's partial output shape, None kept"
            Expect.stringContains json "\"bias_axes\":\"d\"" "bias_axes"
            Expect.equal (LayerConfig.FromJson json) (layer :> Layer) "round trip"
            let x = G.Input(32, 128)
            let m = Model(x, layer.Call(x))
            Expect.stringContains (m.Summary()) "8,256" "128·64 + 64 parameters"
        }
    ]

let private mhaTests =
    testList "MultiHeadAttention" [
        test "Keras's docstring example: (8, 16) attends to (4, 16) with 2 heads of 2: output and scores shapes, weights and count" {
            let layer = MultiHeadAttention(2, 2, ReturnAttentionScores = true, Name = "mha")
            let target, source = G.Input(8, 16), G.Input(4, 16)
            let outs = layer.CallMany(target, source)
            Expect.equal outs.[0].Shape (Shape(8, 16)) "output_tensor.shape (None, 8, 16)"
            Expect.equal outs.[1].Shape (Shape(2, 8, 4)) "weights.shape (None, 2, 8, 4)"
            let specs = layer.Parameters([ Shape(8, 16); Shape(4, 16) ]) |> List.ofSeq
            Expect.equal (specs |> List.map (fun p -> p.Name, List.ofArray (p.Shape.ToKnownArray())))
                [ "query/kernel", [ 16; 2; 2 ]; "query/bias", [ 2; 2 ]; "key/kernel", [ 16; 2; 2 ]; "key/bias", [ 2; 2 ]
                  "value/kernel", [ 16; 2; 2 ]; "value/bias", [ 2; 2 ]; "attention_output/kernel", [ 2; 2; 16 ]; "attention_output/bias", [ 16 ] ]
                "Keras's weight paths and shapes, in Keras's order"
            // four projections: 3 · (16·2·2 + 2·2) + (2·2·16 + 16)
            Expect.equal (specs |> List.sumBy (fun p -> p.Size)) (3L * 68L + 80L) "param count"
            let m = Model([ target; source ], [ outs.[0]; outs.[1] ])
            use net = BuiltNetwork.Build m
            Expect.equal (net.Weights |> Seq.map (fun w -> w.Name) |> List.ofSeq) (specs |> List.map (fun p -> "mha/" + p.Name)) "built weight paths"
            Expect.stringContains (m.Summary()) "284" "summary counts 284 parameters"
        }

        test "Keras's docstring example with attention_axes=(2, 3) on (5, 3, 4, 16), and output_shape" {
            let layer = MultiHeadAttention(2, 2, attentionAxes = IntTuple(2, 3))
            let x = G.Input(5, 3, 4, 16)
            Expect.equal (layer.Call(x, x).Shape) (Shape(5, 3, 4, 16)) "(None, 5, 3, 4, 16)"
            let scored = MultiHeadAttention(2, 2, attentionAxes = IntTuple(2, 3), ReturnAttentionScores = true).CallMany(x, x)
            Expect.equal scored.[1].Shape (Shape(5, 2, 3, 4, 3, 4)) "scores: (batch, other axes, heads, query axes, key axes)"
            let y = G.Input(7, 6)
            Expect.equal (MultiHeadAttention(3, 4, outputShape = IntTuple(2, 5)).Call(y, y).Shape) (Shape(7, 2, 5)) "output_shape replaces the last axis"
            let specs = MultiHeadAttention(3, 4, valueDim = 5, useBias = false).Parameters([ Shape(7, 6); Shape(9, 8); Shape(9, 2) ]) |> List.ofSeq
            Expect.equal (specs |> List.map (fun p -> p.Name, List.ofArray (p.Shape.ToKnownArray())))
                [ "query/kernel", [ 6; 3; 4 ]; "key/kernel", [ 2; 3; 4 ]; "value/kernel", [ 8; 3; 5 ]; "attention_output/kernel", [ 3; 5; 6 ] ]
                "no biases; key and value projections from their own widths"
        }

        test "shape errors as Keras's: value and key disagree, wrong input count, bad arguments" {
            throwsWith<ShapeException> [ "MultiHeadAttention"; "All dimensions of `value` and `key`" ] (fun () ->
                MultiHeadAttention(2, 2).ComputeOutputShape([ Shape(3, 4); Shape(5, 4); Shape(6, 4) ]) |> ignore)
            throwsWith<ShapeException> [ "MultiHeadAttention"; "got 1 input" ] (fun () -> MultiHeadAttention(2, 2).ComputeOutputShape([ Shape(3, 4) ]) |> ignore)
            throwsWith<ArgumentException> [ "MultiHeadAttention"; "numHeads"; "0" ] (fun () -> MultiHeadAttention(0, 2) |> ignore)
            throwsWith<ArgumentException> [ "MultiHeadAttention"; "dropout"; "1.5" ] (fun () -> MultiHeadAttention(1, 2, dropout = 1.5) |> ignore)
            throwsWith<ShapeException> [ "MultiHeadAttention"; "attention_mask" ] (fun () ->
                MultiHeadAttention(2, 2).ComputeOutputShape([ Shape(3, 4); Shape(5, 4); Shape(5, 4); Shape(3, 6) ]) |> ignore)
        }

        test "built: query, value, attention and causal masks combined as Keras's, against a naive float64 reference" {
            torchReady 7
            let b, t, s, d, dv = 2, 5, 4, 3, 6
            let n, h, hv = 2, 3, 2
            let layer, masking1, masking2 =
                float64 (fun () -> MultiHeadAttention(n, h, valueDim = hv, Name = "mha", UseCausalMask = true, ReturnAttentionScores = true,
                                                      biasInitializer = RandomNormal(seed = 5)), Masking(0.0), Masking(0.0))
            let q, v, am = input64 [ t; d ], input64 [ s; dv ], input64 [ t; s ]
            let outs = layer.CallMany(masking1.Call(q), masking2.Call(v), null, am)
            use net = float64 (fun () -> BuiltNetwork.Build(Model([ q; v; am ], [ outs.[0]; outs.[1] ])))
            let gen = Random(11)
            let qs = dataWithZeroRows gen b t d [ (0, 4); (1, 2) ]
            let vs = dataWithZeroRows gen b s dv [ (0, 1); (1, 3) ]
            let ams = Array.init (b * t * s) (fun _ -> if gen.NextDouble() < 0.8 then 1.0 else 0.0)
            let ys = net.Forward([| tensor qs [ int64 b; int64 t; int64 d ]; tensor vs [ int64 b; int64 s; int64 dv ]; tensor ams [ int64 b; int64 t; int64 s ] |])
            let w = weightOf net
            let zero (x: float[]) width bi ti = Array.forall (fun k -> x.[(bi * (x.Length / b / width) + ti) * width + k] = 0.0) [| 0 .. width - 1 |]
            let mask bi ti si =
                not (zero qs d bi ti) && not (zero vs dv bi si) && si <= ti && ams.[(bi * t + ti) * s + si] = 1.0
            let expected, scores =
                naiveMha qs vs (b, t, s, d, dv) (n, h, hv, d)
                    (w "mha/query/kernel") (w "mha/query/bias") (w "mha/key/kernel") (w "mha/key/bias")
                    (w "mha/value/kernel") (w "mha/value/bias") (w "mha/attention_output/kernel") (w "mha/attention_output/bias") mask
            Expect.equal ys.[0].shape [| int64 b; int64 t; int64 d |] "output shape"
            Expect.equal ys.[1].shape [| int64 b; int64 n; int64 t; int64 s |] "scores shape"
            Expect.isTrue (close 1e-10 (doubles ys.[1]) scores) "attention scores"
            Expect.isTrue (close 1e-10 (doubles ys.[0]) expected) "attention output"
            // The masked query rows see nothing: their scores are zero and the output is the output bias.
            Expect.isTrue (doubles ys.[1] |> Array.skip (4 * s) |> Array.take s |> Array.forall ((=) 0.0)) "a fully masked row gives zeros"
        }

        test "built: without masks it is softmax(QKᵀ/√d)V, and the query's mask is the output's" {
            torchReady 8
            let layer = float64 (fun () -> MultiHeadAttention(3, 2, Name = "mha", biasInitializer = RandomUniform(seed = 2)))
            let q = input64 [ 3; 4 ]
            let masked = float64(fun () -> Masking(0.0)).Call(q)
            let y = layer.Call(masked, masked)
            use net = float64 (fun () -> BuiltNetwork.Build(Model(q, Dense(1).Call(y))))
            let gen = Random(5)
            let qs = dataWithZeroRows gen 2 3 4 [ (1, 0) ]
            use x = tensor qs [ 2L; 3L; 4L ]
            let mhaLayer = net.BuiltLayers |> Seq.find (fun l -> l.Layer :? MultiHeadAttention)
            use m = torch.tensor([| true; true; true; false; true; true |]).reshape(2L, 3L)
            let out = mhaLayer.ForwardAll([| x; x |], [| m; m |], ForwardContext.Inference)
            let w = weightOf net
            let expected, _ =
                naiveMha qs qs (2, 3, 3, 4, 4) (3, 2, 2, 4)
                    (w "mha/query/kernel") (w "mha/query/bias") (w "mha/key/kernel") (w "mha/key/bias")
                    (w "mha/value/kernel") (w "mha/value/bias") (w "mha/attention_output/kernel") (w "mha/attention_output/bias")
                    (fun bi ti si -> not (bi = 1 && (ti = 0 || si = 0)))
            Expect.isTrue (close 1e-10 (doubles out.[0]) expected) "masked self-attention"
            let outMask = mhaLayer.ComputeMask([| x; x |], [| m; m |])
            Expect.isTrue (obj.ReferenceEquals(outMask, m)) "the output carries the query's mask"
        }

        test "dropout acts in training only, and a seeded layer repeats itself" {
            torchReady 9
            let layer = MultiHeadAttention(2, 4, dropout = 0.5, seed = 3, ReturnAttentionScores = true)
            let x = G.Input(6, 8)
            let outs = layer.CallMany(x, x)
            use net = BuiltNetwork.Build(Model([ x ], [ outs.[0]; outs.[1] ]))
            use data = torch.randn(2L, 6L, 8L)
            let inference = net.Forward([| data |])
            let again = net.Forward([| data |])
            Expect.isTrue (inference.[0].allclose(again.[0], 0.0, 0.0)) "inference is deterministic"
            let trained = net.Forward([| data |], ForwardContext(true))
            Expect.isFalse (trained.[0].allclose(inference.[0])) "training drops attention probabilities"
            Expect.isTrue (trained.[1].allclose(inference.[1])) "the returned scores are the probabilities before dropout, as Keras returns them"
        }

        test "config: Keras's keys, value_dim resolved, call arguments written only when set" {
            let layer = MultiHeadAttention(2, 16, Name = "mha")
            let json = LayerConfig.ToJson(layer, false)
            for key in [ "\"num_heads\":2"; "\"key_dim\":16"; "\"value_dim\":16"; "\"dropout\":0"; "\"use_bias\":true"; "\"output_shape\":null"; "\"attention_axes\":null"; "\"seed\":null" ] do
                Expect.stringContains json key key
            Expect.isFalse (json.Contains "use_causal_mask") "not written at its default"
            let causal = MultiHeadAttention(2, 16, attentionAxes = IntTuple(1), outputShape = IntTuple(8), UseCausalMask = true, ReturnAttentionScores = true)
            let back = LayerConfig.FromJson(LayerConfig.ToJson causal)
            Expect.equal back (causal :> Layer) "round trip with the call arguments"
            Expect.equal back.OutputCount 2 "two outputs"
            let q, v = G.Input(5, 8), G.Input(6, 8)
            let outs = causal.CallMany(q, v)
            let m = Model([ q; v ], [ outs.[0]; outs.[1] ])
            Expect.equal (ModelConfig.FromJson(m.ToJson())) (m :> IModel) "a model with both outputs round-trips"
        }
    ]

/// Naive Keras Attention/AdditiveAttention on (B, Tq, D) query and (B, Tv, D) value=key.
let naiveAttention (score: int -> int -> int -> float) (v: float[]) (b, tq, tv, d) (qKeep: int -> int -> bool) (vKeep: int -> int -> bool) causal =
    let weights = Array.zeroCreate (b * tq * tv)
    let out = Array.zeroCreate (b * tq * d)
    for bi in 0 .. b - 1 do
        for i in 0 .. tq - 1 do
            // Keras's _apply_scores: scores −= 1e9 · padding, then softmax
            let logits = Array.init tv (fun j -> score bi i j - (if vKeep bi j && (not causal || j <= i) then 0.0 else 1e9))
            let m = Array.max logits
            let e = logits |> Array.map (fun x -> exp (x - m))
            let sum = Array.sum e
            for j in 0 .. tv - 1 do weights.[(bi * tq + i) * tv + j] <- e.[j] / sum
            for k in 0 .. d - 1 do
                let mutable acc = 0.0
                for j in 0 .. tv - 1 do acc <- acc + weights.[(bi * tq + i) * tv + j] * v.[(bi * tv + j) * d + k]
                out.[(bi * tq + i) * d + k] <- if qKeep bi i then acc else 0.0
    out, weights

let private attentionTests =
    testList "Attention and AdditiveAttention" [
        test "shapes, weights and errors as Keras's" {
            let q, v = G.Input(5, 3), G.Input(7, 3)
            Expect.equal (Attention().Call(q, v).Shape) (Shape(5, 3)) "(Tq, dim)"
            let scored = AdditiveAttention(ReturnAttentionScores = true).CallMany(q, v)
            Expect.equal scored.[1].Shape (Shape(5, 7)) "scores (Tq, Tv)"
            Expect.equal (Attention(useScale = true, scoreMode = "concat").Parameters([ Shape(5, 3); Shape(7, 3) ]) |> Seq.map (fun p -> p.Name, p.Shape.Rank) |> List.ofSeq)
                [ "scale", 0; "concat_score_weight", 0 ] "two scalars"
            Expect.equal (AdditiveAttention().Parameters([ Shape(5, 3); Shape(7, 3) ]) |> Seq.map (fun p -> p.Name, List.ofArray (p.Shape.ToKnownArray())) |> List.ofSeq)
                [ "scale", [ 3 ] ] "scale (dim,)"
            throwsWith<ArgumentException> [ "Attention"; "scoreMode"; "'add'" ] (fun () -> Attention(scoreMode = "add") |> ignore)
            throwsWith<ShapeException> [ "Attention"; "length 2 or 3" ] (fun () -> Attention().ComputeOutputShape([ Shape(5, 3) ]) |> ignore)
            throwsWith<ShapeException> [ "Attention"; "last dimensions" ] (fun () -> Attention().ComputeOutputShape([ Shape(5, 3); Shape(7, 4) ]) |> ignore)
        }

        testList "built against naive float64 references with value, query and causal masks" [
            for name, make in [ "Attention dot, scaled", (fun causal -> Attention(useScale = true, Name = "att", UseCausalMask = causal, ReturnAttentionScores = true) :> Layer)
                                "Attention concat", (fun causal -> Attention(useScale = true, scoreMode = "concat", Name = "att", UseCausalMask = causal, ReturnAttentionScores = true) :> Layer)
                                "AdditiveAttention", (fun causal -> AdditiveAttention(Name = "att", UseCausalMask = causal, ReturnAttentionScores = true) :> Layer) ] do
              for causal in [ false; true ] do
                test (sprintf "%s, causal %b" name causal) {
                    torchReady 21
                    let layer = float64 (fun () -> make causal)
                    let b, tq, tv, d = 2, 4, 5, 3
                    let q, v = input64 [ tq; d ], input64 [ tv; d ]
                    let outs = layer.CallMany(float64(fun () -> Masking(0.0)).Call(q), float64(fun () -> Masking(0.0)).Call(v))
                    use net = float64 (fun () -> BuiltNetwork.Build(Model([ q; v ], [ outs.[0]; outs.[1] ])))
                    // Give the scalar weights values other than their initial ones.
                    use _ = torch.no_grad()
                    for w in net.Weights do
                        if w.Parameter.dim() = 0 then w.Parameter.fill_(if w.Name.EndsWith "scale" then 0.7 else 1.3) |> ignore
                    let gen = Random(17)
                    let qs = dataWithZeroRows gen b tq d [ (1, 3) ]
                    let vs = dataWithZeroRows gen b tv d [ (0, 4); (1, 1) ]
                    let ys = net.Forward([| tensor qs [ int64 b; int64 tq; int64 d ]; tensor vs [ int64 b; int64 tv; int64 d ] |])
                    let keep (x: float[]) steps bi ti = not (Array.forall (fun k -> x.[(bi * steps + ti) * d + k] = 0.0) [| 0 .. d - 1 |])
                    let qv bi i k = qs.[(bi * tq + i) * d + k]
                    let kv bi j k = vs.[(bi * tv + j) * d + k]
                    let score =
                        match layer with
                        | :? Attention as a when a.ScoreMode = "dot" ->
                            fun bi i j -> 0.7 * (Seq.sum (seq { for k in 0 .. d - 1 -> qv bi i k * kv bi j k }))
                        | :? Attention ->
                            fun bi i j -> 1.3 * (Seq.sum (seq { for k in 0 .. d - 1 -> tanh (0.7 * (qv bi i k + kv bi j k)) }))
                        | _ ->
                            let scale = weightOf net "att/scale"
                            fun bi i j -> Seq.sum (seq { for k in 0 .. d - 1 -> scale.[k] * tanh (qv bi i k + kv bi j k) })
                    let expected, weights = naiveAttention score vs (b, tq, tv, d) (keep qs tq) (keep vs tv) causal
                    Expect.isTrue (close 1e-10 (doubles ys.[1]) weights) "attention weights"
                    Expect.isTrue (close 1e-10 (doubles ys.[0]) expected) "output, masked query steps zero"
                }
        ]
    ]

[<Tests>]
let tests = testList "Attention" [ einsumTests; mhaTests; attentionTests ]
