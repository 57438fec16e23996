/// Embedding and the recurrent layers (SimpleRNN, LSTM, GRU) against naive float64 references of Keras's equations,
/// written here as plain loops over arrays (keras/src/layers/rnn/*.py and the backends' `rnn` loop): masks, go_backwards,
/// return_state, stateful; libtorch's fused kernels against the per-step loop; shapes, parameter counts, configs, summaries.
module Functional.Tests.RecurrentTests

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
open Functional.Torch.Native
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support

type private G = Functional.Models.Graph

// ---------------------------------------------------------------------------------------------------------------------
// Naive references (float64, plain arrays).

let private sigmoid x = 1.0 / (1.0 + exp -x)

/// v · m[:, col0 .. col0 + n − 1]
let private matvec (v: float[]) (m: float[,]) col0 n =
    Array.init n (fun j ->
        let mutable s = 0.0
        for i in 0 .. v.Length - 1 do s <- s + v[i] * m[i, col0 + j]
        s)

let private add (a: float[]) (b: float[]) = Array.map2 (+) a b
let private mul (a: float[]) (b: float[]) = Array.map2 (*) a b

type private Cell =
    | Simple
    | Lstm
    | Gru of resetAfter: bool

/// One sample through Keras's recurrent loop: steps in order (reversed with go_backwards); a masked step keeps the
/// states and outputs the previous output (zeros before the first unmasked one, or zeros with zero_output_for_mask).
/// `bias` has one row, or two for GRU's reset_after (input bias, recurrent bias). Returns every step's output and the
/// final h and c.
let private reference cell (kernel: float[,]) (rk: float[,]) (bias: float[,] option) units
                      (xs: float[][]) (mask: bool[]) goBackwards zeroOut (h0: float[]) (c0: float[]) =
    let steps = xs.Length
    let order = if goBackwards then [| steps - 1 .. -1 .. 0 |] else [| 0 .. steps - 1 |]
    let zeros = Array.zeroCreate units
    let b row g = match bias with Some b -> Array.init units (fun j -> b[row, g * units + j]) | None -> zeros
    let mutable h = h0
    let mutable c = c0
    let mutable prev = zeros
    let outputs = ResizeArray()
    for t in order do
        let x = xs[t]
        let xw g = matvec x kernel (g * units) units
        let hu g = matvec h rk (g * units) units
        let hNew, cNew =
            match cell with
            | Simple -> Array.map tanh (add (add (xw 0) (hu 0)) (b 0 0)), c
            | Lstm ->
                let gate g f = Array.map f (add (add (xw g) (hu g)) (b 0 g))
                let i, f, cc, o = gate 0 sigmoid, gate 1 sigmoid, gate 2 tanh, gate 3 sigmoid
                let cNew = add (mul f c) (mul i cc)
                mul o (Array.map tanh cNew), cNew
            | Gru true ->
                let z = Array.map sigmoid (add (add (xw 0) (b 0 0)) (add (hu 0) (b 1 0)))
                let r = Array.map sigmoid (add (add (xw 1) (b 0 1)) (add (hu 1) (b 1 1)))
                let hh = Array.map tanh (add (add (xw 2) (b 0 2)) (mul r (add (hu 2) (b 1 2))))
                Array.init units (fun j -> z[j] * h[j] + (1.0 - z[j]) * hh[j]), c
            | Gru false ->
                let z = Array.map sigmoid (add (add (xw 0) (b 0 0)) (hu 0))
                let r = Array.map sigmoid (add (add (xw 1) (b 0 1)) (hu 1))
                let hh = Array.map tanh (add (add (xw 2) (b 0 2)) (matvec (mul r h) rk (2 * units) units))
                Array.init units (fun j -> z[j] * h[j] + (1.0 - z[j]) * hh[j]), c
        let out =
            if mask[t] then
                h <- hNew
                c <- cNew
                hNew
            elif zeroOut then zeros
            else prev
        prev <- out
        outputs.Add out
    outputs.ToArray(), h, c

// ---------------------------------------------------------------------------------------------------------------------
// Tensors ↔ arrays.

let private values (t: torch.Tensor) =
    use d = t.detach().contiguous().cpu().to_type(torch.ScalarType.Float64)
    d.data<float>().ToArray()

let private matrix (t: torch.Tensor) =
    let v = values t
    Array2D.init (int t.shape[0]) (int t.shape[1]) (fun i j -> v[i * int t.shape[1] + j])

let private cellOf (layer: RecurrentLayer) =
    match layer with
    | :? LSTM -> Lstm
    | :? GRU as g -> Gru g.ResetAfter
    | _ -> Simple

/// (batch, steps, features) float64 data; when `padded`, some steps are all zero (Masking(0) masks them): sample 0 at the
/// end (right padding), sample 1 in the middle and at the start.
let private data (rng: Random) batch steps features padded =
    Array.init batch (fun b ->
        Array.init steps (fun t ->
            let zero = padded && ((b % 2 = 0 && t >= steps - 2) || (b % 2 = 1 && (t = 0 || t = steps / 2)))
            Array.init features (fun _ -> if zero then 0.0 else rng.NextDouble() * 2.0 - 1.0)))

let private tensorOf (xs: float[][][]) =
    let b, s, f = xs.Length, xs.[0].Length, xs.[0].[0].Length
    let flat : float[] = xs |> Array.collect (Array.collect id)
    torch.tensor(flat).reshape(int64 b, int64 s, int64 f)

/// Input (None, features) → [Masking(0)] → layer, every output of the layer a model output; float64 throughout.
let private modelOf (layer: RecurrentLayer) features masking =
    let x = G.Input(Shape([| Nullable(); Nullable(features: int) |]))
    let seq = if masking then Masking(0.0).Call(x) else x
    let ys = layer.CallMany(seq)
    Model([ x ], List.ofSeq ys)

/// The reference outputs of the layer for `xs`, from the built network's own weights.
let private expected (net: BuiltNetwork) (layer: RecurrentLayer) (xs: float[][][]) masking (h0: float[][] option) =
    let weight name = net.Weights |> Seq.find (fun (w: WeightBinding) -> w.Name.EndsWith("/" + name)) |> fun w -> w.KerasView()
    let kernel = matrix (weight "kernel")
    let rk = matrix (weight "recurrent_kernel")
    let bias =
        if not layer.UseBias then None
        else
            let b = weight "bias"
            Some (if b.dim() = 1L then matrix (b.unsqueeze 0L) else matrix b)
    let units = layer.Units
    [ for s, sample in Array.indexed xs ->
        let mask = sample |> Array.map (fun step -> not masking || step |> Array.exists (fun v -> v <> 0.0))
        let start = match h0 with Some h -> h[s] | None -> Array.zeroCreate units
        reference (cellOf layer) kernel rk bias units sample mask layer.GoBackwards layer.ZeroOutputForMask start (Array.zeroCreate units) ]

let private closeArrays what (expected: float[]) (actual: float[]) =
    Expect.equal actual.Length expected.Length (what + ": length")
    for i in 0 .. expected.Length - 1 do
        if abs (actual[i] - expected[i]) > 1e-9 + 1e-9 * abs expected[i] then
            failtestf "%s: element %d is %.17g, the reference %.17g" what i actual[i] expected[i]

/// A copy of the record with one property set, as `with` makes it.
let private copyWith (name: string) (value: obj) (layer: RecurrentLayer) =
    let copy = layer.GetType().GetMethod("<Clone>$").Invoke(layer, [||]) :?> RecurrentLayer
    layer.GetType().GetProperty(name).SetValue(copy, value)
    copy

/// Checks every output of the layer (sequence or last output, then the states) against the reference.
let private checkAgainstReference (layer: RecurrentLayer) (xs: float[][][]) masking =
    use _ = DTypePolicy.Use(DTypePolicy.Float64)
    let layer = copyWith "Dtype" (box DTypePolicy.Float64) layer
    use net = BuiltNetwork.Build(modelOf layer xs.[0].[0].Length masking)
    use x = tensorOf xs
    let outs = net.Forward([| x |])
    let refs = expected net layer xs masking None
    let steps = xs[0].Length
    let sequence = refs |> List.collect (fun (o, _, _) -> o |> Array.toList |> List.collect Array.toList) |> Array.ofList
    let last = refs |> List.collect (fun (o, _, _) -> Array.toList o[steps - 1]) |> Array.ofList
    let hs = refs |> List.collect (fun (_, h, _) -> Array.toList h) |> Array.ofList
    let cs = refs |> List.collect (fun (_, _, c) -> Array.toList c) |> Array.ofList
    closeArrays "output" (if layer.ReturnSequences then sequence else last) (values outs[0])
    if layer.ReturnState then
        closeArrays "state h" hs (values outs[1])
        if layer :? LSTM then closeArrays "state c" cs (values outs[2])
    for o in outs do o.Dispose()

/// Layers of each kind with biases that matter (random, not zeros) and the given sequence arguments.
let private layersWith (units: int) (configure: RecurrentLayer -> RecurrentLayer) : RecurrentLayer list =
    let bias = RandomUniform(-0.5, 0.5)
    [ SimpleRNN(units, biasInitializer = bias) :> RecurrentLayer
      LSTM(units, biasInitializer = bias, unitForgetBias = false)
      LSTM(units)
      GRU(units, biasInitializer = bias)
      GRU(units, biasInitializer = bias, resetAfter = false) ]
    |> List.map configure


let private withFused (on: bool) f =
    let before = FusedRnn.Enabled
    FusedRnn.Enabled <- on
    try f () finally FusedRnn.Enabled <- before

// ---------------------------------------------------------------------------------------------------------------------

let private shapeTests =
    testList "shapes and parameters" [
        test "LSTM, GRU and SimpleRNN documented examples run with those shapes" {
            torchReady 2
            for make in [ (fun rs st -> LSTM(4, returnSequences = rs, returnState = st) :> RecurrentLayer)
                          (fun rs st -> GRU(4, returnSequences = rs, returnState = st))
                          (fun rs st -> SimpleRNN(4, returnSequences = rs, returnState = st)) ] do
                use x = torch.rand(32L, 10L, 8L)
                use plain = BuiltNetwork.Build(Sequential(Input(10, 8), make false false))
                use y = plain.Predict x
                Expect.sequenceEqual y.shape [| 32L; 4L |] "output (32, 4)"
                let layer = make true true
                let input = G.Input(10, 8)
                let ys = layer.CallMany(input) |> List.ofSeq
                use net = BuiltNetwork.Build(Model([ input ], ys))
                let outs = net.Forward([| x |])
                Expect.sequenceEqual outs[0].shape [| 32L; 10L; 4L |] "whole sequence"
                for s in outs |> Seq.skip 1 do Expect.sequenceEqual s.shape [| 32L; 4L |] "each final state"
                Expect.equal outs.Count (1 + layer.StateCount) "output then states"
        }
        test "Keras's Embedding example: Embedding(1000, 64) on (32, 10) integers gives (32, 10, 64)" {
            torchReady 3
            let x = Input(Shape([| Nullable<int>() |]), Dtype = DTypePolicy("int32"))
            use net = BuiltNetwork.Build(Sequential(x, Embedding(1000, 64)))
            use ids = torch.randint(1000L, [| 32L; 10L |], dtype = torch.ScalarType.Int64)
            use y = net.Predict ids
            Expect.sequenceEqual y.shape [| 32L; 10L; 64L |] "(32, 10, 64)"
        }
        testProperty "parameter counts: SimpleRNN u·(f+u)+u, LSTM 4·(u·(f+u)+u), GRU reset_after 3·(u·(f+u)+2u), else 3·(u·(f+u)+u)" (fun (PositiveInt u0) (PositiveInt f0) ->
            let u, f = 1 + u0 % 64, 1 + f0 % 64
            let shape = Shape([| Nullable(); Nullable f |])
            let count (l: Layer) = l.ParameterCount shape
            count (SimpleRNN(u)) = int64 (u * (f + u) + u)
            && count (LSTM(u)) = int64 (4 * (u * (f + u) + u))
            && count (GRU(u)) = int64 (3 * (u * (f + u) + 2 * u))
            && count (GRU(u, resetAfter = false)) = int64 (3 * (u * (f + u) + u))
            && count (LSTM(u, useBias = false)) = int64 (4 * u * (f + u)))
        test "weights are Keras's: names, shapes and order; GRU's bias is (2, 3·units) with reset_after" {
            let specs (l: Layer) = l.Parameters(Shape(5, 3)) |> Seq.map (fun p -> p.Name, p.Shape.ToKnownArray()) |> List.ofSeq
            Expect.equal (specs (LSTM(4))) [ "kernel", [| 3; 16 |]; "recurrent_kernel", [| 4; 16 |]; "bias", [| 16 |] ] "LSTM"
            Expect.equal (specs (GRU(4))) [ "kernel", [| 3; 12 |]; "recurrent_kernel", [| 4; 12 |]; "bias", [| 2; 12 |] ] "GRU"
            Expect.equal (specs (GRU(4, resetAfter = false))) [ "kernel", [| 3; 12 |]; "recurrent_kernel", [| 4; 12 |]; "bias", [| 12 |] ] "GRU v1"
            Expect.equal (specs (SimpleRNN(4))) [ "kernel", [| 3; 4 |]; "recurrent_kernel", [| 4; 4 |]; "bias", [| 4 |] ] "SimpleRNN"
            Expect.equal (specs (Embedding(10, 3))) [ "embeddings", [| 10; 3 |] ] "Embedding"
        }
        test "output shapes keep unknown timesteps unknown; states are (units)" {
            let none = Shape([| Nullable(); Nullable 3 |])
            Expect.equal (LSTM(4, returnSequences = true).ComputeOutputShape none) (Shape([| Nullable(); Nullable 4 |])) "sequence"
            Expect.equal (LSTM(4).ComputeOutputShape none) (Shape(4)) "last output"
            Expect.sequenceEqual (LSTM(4, returnState = true).ComputeOutputShapes [| none |]) [ Shape(4); Shape(4); Shape(4) ] "LSTM: output, h, c"
            Expect.sequenceEqual (GRU(4, returnState = true).ComputeOutputShapes [| none |]) [ Shape(4); Shape(4) ] "GRU: output, h"
            Expect.equal (Embedding(7, 5).ComputeOutputShape(Shape([| Nullable<int>() |]))) (Shape([| Nullable(); Nullable 5 |])) "embedding"
        }
        test "bad arguments and inputs are managed errors naming the layer, argument and value" {
            throwsWith<ArgumentException> [ "LSTM"; "units"; "0" ] (fun () -> LSTM(0) |> ignore)
            throwsWith<ArgumentException> [ "GRU"; "dropout"; "1.5" ] (fun () -> GRU(2, dropout = 1.5) |> ignore)
            throwsWith<ArgumentException> [ "Embedding"; "inputDim"; "-1" ] (fun () -> Embedding(-1, 2) |> ignore)
            throwsWith<ShapeException> [ "LSTM"; "ndim=4" ] (fun () -> LSTM(2).ComputeOutputShape(Shape(2, 3, 4)) |> ignore)
            throwsWith<ShapeException> [ "SimpleRNN"; "features" ] (fun () -> SimpleRNN(2).Parameters(Shape([| Nullable 3; Nullable() |])) |> ignore)
            throwsWith<ShapeException> [ "unroll" ] (fun () -> LSTM(2, unroll = true).ComputeOutputShape(Shape([| Nullable(); Nullable 3 |])) |> ignore)
            throwsWith<ArgumentException> [ "Embedding"; "LoRA"; "constraint" ] (fun () -> Embedding(5, 2, embeddingsConstraint = NonNeg(), loraRank = 2) |> ignore)
        }
        test "configs round-trip with Keras's keys, and the summary counts Keras's parameters" {
            for layer in [ LSTM(3, dropout = 0.25, returnSequences = true, goBackwards = true) :> Layer; GRU(2, resetAfter = false, stateful = true)
                           SimpleRNN(5, activation = "relu", unroll = true); Embedding(9, 4, maskZero = true); Embedding(9, 4, loraRank = 2) ] do
                let json = LayerConfig.Serialize layer
                Expect.equal (LayerConfig.Deserialize json) layer (sprintf "round trip %O" json)
            let json = (LayerConfig.Serialize(LSTM(3))).ToJsonString()
            for key in [ "\"units\":3"; "\"recurrent_activation\":\"sigmoid\""; "\"unit_forget_bias\":true"; "\"return_sequences\":false"; "\"recurrent_initializer\""; "\"Orthogonal\"" ] do
                Expect.stringContains json key "Keras's key"
            let m = Sequential(Input(10, 8), LSTM(4, Name = "lstm"), Dense(1))
            let summary = m.Summary()
            Expect.stringContains summary "lstm (LSTM)" "row"
            Expect.stringContains summary "208" "4·(4·(8+4)+4) = 208"
        }
    ]

let private numericTests =
    testList "numerics against Keras's equations (float64)" [
        for name, configure, masking in
            [ "plain", id, false
              "return_sequences", copyWith "ReturnSequences" true, false
              "go_backwards with return_sequences", (copyWith "ReturnSequences" true >> copyWith "GoBackwards" true), false
              "return_state", copyWith "ReturnState" true, false
              "masked (Masking(0), padding at the end, middle and start)", id, true
              "masked with return_sequences: masked steps repeat the previous output", copyWith "ReturnSequences" true, true
              "masked, go_backwards, return_state", (copyWith "GoBackwards" true >> copyWith "ReturnState" true), true
              "masked with zero_output_for_mask", (copyWith "ReturnSequences" true >> copyWith "ZeroOutputForMask" true), true
              "unrolled", copyWith "Unroll" true, false ] do
            test name {
                torchReady 7
                let rng = Random(11)
                let steps = 6
                for layer in layersWith 3 configure do
                    let xs = data rng 4 steps 5 masking
                    if layer.Unroll then
                        // unroll needs known timesteps: build over (6, 5)
                        use _ = DTypePolicy.Use(DTypePolicy.Float64)
                        let layer = copyWith "Dtype" (box DTypePolicy.Float64) layer
                        let input = G.Input(steps, 5)
                        let ys = layer.CallMany(input) |> List.ofSeq
                        use net = BuiltNetwork.Build(Model([ input ], ys))
                        use x = tensorOf xs
                        let refs = expected net layer xs false None
                        closeArrays (sprintf "%O unrolled" layer) (refs |> List.collect (fun (o, _, _) -> Array.toList o[steps - 1]) |> Array.ofList) (values (net.Forward([| x |]).[0]))
                    else checkAgainstReference layer xs masking
            }
        test "initial_state given as inputs starts the recurrence there" {
            torchReady 8
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let rng = Random(3)
            let xs = data rng 2 4 3 false
            for layer in [ GRU(2, biasInitializer = RandomUniform(-0.5, 0.5)) :> RecurrentLayer; SimpleRNN(2) ] do
                let x = G.Input(Shape([| Nullable(); Nullable 3 |]))
                let h = G.Input(2)
                use net = BuiltNetwork.Build(Model([ x; h ], [ layer.Call(x, h) ]))
                let h0 = [| [| 0.3; -0.7 |]; [| 1.0; 0.2 |] |]
                use ht = torch.tensor(Array.concat h0 : float[]).reshape(2L, 2L)
                use xt = tensorOf xs
                let y = net.Forward([| xt; ht |]).[0]
                let refs = expected net layer xs false (Some h0)
                closeArrays (sprintf "%O from h0" layer) (refs |> List.collect (fun (o, _, _) -> Array.toList o[3]) |> Array.ofList) (values y)
        }
        test "stateful: two calls continue one sequence; ResetStates starts again from zeros" {
            torchReady 9
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let rng = Random(5)
            let xs = data rng 3 8 4 false
            for layer in [ LSTM(3, stateful = true) :> RecurrentLayer; GRU(3, stateful = true); SimpleRNN(3, stateful = true) ] do
                use net = BuiltNetwork.Build(modelOf layer 4 false)
                use whole = tensorOf xs
                use first = whole.narrow(1L, 0L, 4L)
                use second = whole.narrow(1L, 4L, 4L)
                net.Forward([| first |]) |> ignore
                let continued = values (net.Forward([| second |]).[0])
                let refs = expected net layer xs false None
                closeArrays (sprintf "%O: second half after the first" layer) (refs |> List.collect (fun (o, _, _) -> Array.toList o[7]) |> Array.ofList) continued
                net.ResetStates()
                let fresh = values (net.Forward([| first |]).[0])
                let firstRefs = expected net layer (xs |> Array.map (fun s -> s[0..3])) false None
                closeArrays (sprintf "%O: after ResetStates" layer) (firstRefs |> List.collect (fun (o, _, _) -> Array.toList o[3]) |> Array.ofList) fresh
                throwsWith<ArgumentException> [ "stateful"; "batch" ] (fun () -> net.Forward([| whole.narrow(0L, 0L, 2L) |]) |> ignore)
        }
        test "Embedding(mask_zero) → LSTM skips the padding: equal to the unpadded sequences" {
            torchReady 10
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let x = G.TensorOf(Input(Shape([| Nullable<int>() |]), Dtype = DTypePolicy("int32")))
            let e = Embedding(20, 4, maskZero = true, Name = "e")
            let lstm = LSTM(3, Name = "l")
            use padded = BuiltNetwork.Build(Model([ x ], [ lstm.Call(e.Call(x)) ]))
            use ids = torch.tensor([| 5L; 7L; 2L; 0L; 0L; 3L; 9L; 0L; 0L; 0L |]).reshape(2L, 5L)
            let y = values (padded.Forward([| ids |]).[0])
            let weight n = padded.Weights |> Seq.find (fun (w: WeightBinding) -> w.Name = n) |> fun w -> w.KerasView()
            let table = matrix (weight "e/embeddings")
            let embed (ixs: int64 list) = ixs |> List.map (fun i -> Array.init 4 (fun j -> table[int i, j])) |> Array.ofList
            let kernel, rk, bias = matrix (weight "l/kernel"), matrix (weight "l/recurrent_kernel"), matrix ((weight "l/bias").unsqueeze 0L)
            let run seq = let o, _, _ = reference Lstm kernel rk (Some bias) 3 seq (Array.create seq.Length true) false false (Array.zeroCreate 3) (Array.zeroCreate 3) in o[seq.Length - 1]
            closeArrays "padded = unpadded" (Array.append (run (embed [ 5L; 7L; 2L ])) (run (embed [ 3L; 9L ]))) y
        }
    ]

let private fusedTests =
    testList "fused kernels (libtorch) and the per-step loop" [
        test "Keras's fast-path conditions choose the fused kernel" {
            torchReady 12
            Expect.isTrue FusedRnn.Available "libtorch's fused kernels are found on Linux x86-64"
            let built (layer: RecurrentLayer) =
                let net = BuiltNetwork.Build(Sequential(Input(5, 3), layer))
                net, net.BuiltLayers |> Seq.pick (function :? BuiltRecurrent as r -> Some r | _ -> None)
            for layer, fused in [ LSTM(2) :> RecurrentLayer, true; GRU(2), true; SimpleRNN(2), true; GRU(2, resetAfter = false), false
                                  LSTM(2, recurrentDropout = 0.1), false; LSTM(2, unroll = true), false; LSTM(2, activation = "relu"), false
                                  LSTM(2, recurrentActivation = "hard_sigmoid"), false; LSTM(2, dropout = 0.3), true ] do
                let net, r = built layer
                Expect.equal (r.UsesFusedKernel(false, torch.ScalarType.Float32)) fused (sprintf "%O" layer)
                Expect.isFalse (r.UsesFusedKernel(true, torch.ScalarType.Float32)) "a mask takes the loop"
                net.Dispose()
        }
        test "an empty batch gives an empty output (never handed to the native kernel)" {
            torchReady 14
            for layer in [ LSTM(3) :> RecurrentLayer; GRU(2, returnSequences = true); SimpleRNN(2) ] do
                use net = BuiltNetwork.Build(Sequential(Input(4, 3), layer))
                use y = net.Forward([| torch.zeros(0L, 4L, 3L) |]).[0]
                Expect.equal y.shape.[0] 0L (sprintf "%O: no samples" layer)
        }
        testPropertyWithConfig { torchConfig with maxTest = 12 } "law: fused and loop paths agree (outputs, states and gradients)" (fun (seed: int) ->
            torchReady (abs seed % 1000)
            let rng = Random(seed)
            let units = rng.Next(1, 5)
            let features = rng.Next(1, 5)
            let steps = rng.Next(1, 7)
            let batch = rng.Next(1, 4)
            let useBias = rng.Next(2) = 0
            let sequences = rng.Next(2) = 0
            let backwards = rng.Next(2) = 0
            let bias = RandomUniform(-1.0, 1.0)
            let layer : RecurrentLayer =
                match rng.Next 3 with
                | 0 -> LSTM(units, useBias = useBias, returnSequences = sequences, returnState = true, goBackwards = backwards, biasInitializer = bias)
                | 1 -> GRU(units, useBias = useBias, returnSequences = sequences, returnState = true, goBackwards = backwards, biasInitializer = bias)
                | _ -> SimpleRNN(units, useBias = useBias, returnSequences = sequences, returnState = true, goBackwards = backwards, biasInitializer = bias)
            use net = BuiltNetwork.Build(modelOf layer features false)
            use x = torch.randn(int64 batch, int64 steps, int64 features)
            let run fused =
                withFused fused (fun () ->
                    for p in net.TrainableParameters do p.grad <- null
                    let outs = net.Forward([| x |], ForwardContext(true))
                    let loss = outs |> Seq.mapi (fun i o -> (o * float (i + 1)).sin().sum()) |> Seq.reduce (+)
                    loss.backward()
                    (outs |> Seq.map values |> List.ofSeq), (net.TrainableParameters |> Seq.map (fun p -> values p.grad) |> List.ofSeq))
            let fusedOuts, fusedGrads = run true
            let loopOuts, loopGrads = run false
            let close (a: float[] list) (b: float[] list) = List.forall2 (fun (x: float[]) (y: float[]) -> Array.forall2 (fun p q -> abs (p - q) <= 2e-5 * (1.0 + abs q)) x y) a b
            close fusedOuts loopOuts && close fusedGrads loopGrads)
        test "a mixed_bfloat16 LSTM computes in bfloat16 with float32 weights (loop path), float64 in float64 (fused)" {
            torchReady 13
            use _ = DTypePolicy.Use(DTypePolicy.MixedBFloat16)
            use net = BuiltNetwork.Build(Sequential(Input(4, 3), LSTM(2)))
            use y = net.Predict(torch.randn(2L, 4L, 3L))
            Expect.equal y.dtype torch.ScalarType.BFloat16 "bfloat16 output"
        }
    ]

let private embeddingTests =
    testList "Embedding" [
        test "looks rows up; integer and floating indices; unknown length" {
            torchReady 20
            let x = G.TensorOf(Input(Shape([| Nullable<int>(); Nullable<int>() |]), Dtype = DTypePolicy("int64")))
            use net = BuiltNetwork.Build(Model([ x ], [ Embedding(6, 3, Name = "e").Call(x) ]))
            let table = matrix ((net.Weights |> Seq.head).KerasView())
            use ids = torch.tensor([| 0L; 5L; 2L; 2L; 1L; 4L |]).reshape(1L, 2L, 3L)
            let y = values (net.Forward([| ids |]).[0])
            let want = [| 0; 5; 2; 2; 1; 4 |] |> Array.collect (fun i -> Array.init 3 (fun j -> table[i, j]))
            closeArrays "rows" want y
            Expect.isTrue (table |> Seq.cast<float> |> Seq.forall (fun v -> v >= -0.05 && v < 0.05)) "Keras's uniform(-0.05, 0.05)"
        }
        test "mask_zero: the mask is indices != 0; without it there is none" {
            torchReady 21
            let built (e: Embedding) = BuiltNetwork.Build(Sequential(Input(Shape([| Nullable<int>() |]), Dtype = DTypePolicy("int32")), e))
            use net = built (Embedding(5, 2, maskZero = true))
            let layer = net.BuiltLayers |> Seq.find (fun l -> l.Layer :? Embedding)
            use ids = torch.tensor([| 3L; 0L; 1L; 0L |]).reshape(2L, 2L)
            use mask = layer.ComputeMask([| ids |], [||])
            Expect.sequenceEqual (mask.data<bool>().ToArray()) [| true; false; true; false |] "indices != 0"
            use plain = built (Embedding(5, 2))
            Expect.isNull ((plain.BuiltLayers |> Seq.find (fun l -> l.Layer :? Embedding)).ComputeMask([| ids |], [||])) "no mask"
        }
        test "an index out of range is a managed error naming the layer and the index, never a native crash" {
            torchReady 22
            use net = BuiltNetwork.Build(Sequential(Input(Shape([| Nullable<int>() |]), Dtype = DTypePolicy("int64")), Embedding(4, 2, Name = "words")))
            throwsWith<ArgumentException> [ "Embedding 'words'"; "index 4"; "[0, 4)" ] (fun () -> net.Predict(torch.tensor([| 1L; 4L |]).reshape(1L, 2L) : torch.Tensor) |> ignore)
            throwsWith<ArgumentException> [ "Embedding 'words'"; "index -1" ] (fun () -> net.Predict(torch.tensor([| -1L; 2L |]).reshape(1L, 2L) : torch.Tensor) |> ignore)
        }
        test "LoRA: embeddings frozen, lora_embeddings_a/b trainable, a fresh adapter changes nothing" {
            torchReady 23
            let e = Embedding(7, 3, Name = "e")
            let specs = e.EnableLora(2).Parameters(Shape(4)) |> Seq.map (fun p -> p.Name, p.Shape.ToKnownArray(), p.Trainable) |> List.ofSeq
            Expect.equal specs [ "embeddings", [| 7; 3 |], false; "lora_embeddings_a", [| 7; 2 |], true; "lora_embeddings_b", [| 2; 3 |], true ] "Keras's weights"
            use net = BuiltNetwork.Build(Sequential(Input(Shape([| Nullable<int>() |]), Dtype = DTypePolicy("int64")), e.EnableLora(2)))
            let table = matrix ((net.Weights |> Seq.head).KerasView())
            use ids : torch.Tensor = torch.tensor([| 6L; 0L |]).reshape(1L, 2L)
            closeArrays "b = 0: plain lookup" (Array.append (Array.init 3 (fun j -> table[6, j])) (Array.init 3 (fun j -> table[0, j]))) (values (net.Predict(ids: torch.Tensor)))
        }
    ]

/// The reference of one direction of a Bidirectional, from the built network's weights under `prefix` (`forward_lstm`).
let private directionReference (net: BuiltNetwork) (prefix: string) (layer: RecurrentLayer) (xs: float[][][]) masking =
    let weight name = net.Weights |> Seq.find (fun (w: WeightBinding) -> w.Name.EndsWith($"/{prefix}/{name}")) |> fun w -> w.KerasView()
    let bias = if layer.UseBias then (let b = weight "bias" in Some (if b.dim() = 1L then matrix (b.unsqueeze 0L) else matrix b)) else None
    [ for sample in xs ->
        let mask = sample |> Array.map (fun step -> not masking || step |> Array.exists (fun v -> v <> 0.0))
        reference (cellOf layer) (matrix (weight "kernel")) (matrix (weight "recurrent_kernel")) bias layer.Units sample mask
                  layer.GoBackwards false (Array.zeroCreate layer.Units) (Array.zeroCreate layer.Units) ]

let private wrapperTests =
    testList "Bidirectional and TimeDistributed" [
        test "Keras's documented shapes: Bidirectional(LSTM(10, return_sequences)) on (5, 10) gives (5, 20); TimeDistributed(Conv2D(64, 3)) on (10, 128, 128, 3) gives (10, 126, 126, 64)" {
            Expect.equal (Bidirectional(LSTM(10, returnSequences = true)).ComputeOutputShape(Shape(5, 10))) (Shape(5, 20)) "concat doubles the units"
            Expect.equal (TimeDistributed(Conv2D(64, 3)).ComputeOutputShape(Shape(10, 128, 128, 3))) (Shape(10, 126, 126, 64)) "per step"
            Expect.equal (Bidirectional(LSTM(10), mergeMode = "sum").ComputeOutputShape(Shape([| Nullable(); Nullable 10 |]))) (Shape 10) "sum"
            Expect.sequenceEqual (Bidirectional(LSTM(4, returnState = true), mergeMode = null).ComputeOutputShapes [| Shape(5, 3) |])
                [ Shape 4; Shape 4; Shape 4; Shape 4; Shape 4; Shape 4 ] "two halves, then forward h, c and backward h, c"
            let specs = Bidirectional(LSTM(4)).Parameters(Shape(5, 3)) |> Seq.map (fun p -> p.Name) |> List.ofSeq
            Expect.equal specs [ "forward_lstm/kernel"; "forward_lstm/recurrent_kernel"; "forward_lstm/bias"
                                 "backward_lstm/kernel"; "backward_lstm/recurrent_kernel"; "backward_lstm/bias" ] "Keras's weight names"
            Expect.equal (Bidirectional(LSTM(4)).ParameterCount(Shape(5, 3))) (2L * LSTM(4).ParameterCount(Shape(5, 3))) "twice the layer"
            throwsWith<ArgumentException> [ "Bidirectional"; "go_backwards" ] (fun () -> Bidirectional(LSTM(2), backwardLayer = LSTM(2)) |> ignore)
            throwsWith<ArgumentException> [ "Bidirectional"; "mergeMode"; "'max'" ] (fun () -> Bidirectional(LSTM(2), mergeMode = "max") |> ignore)
            throwsWith<ShapeException> [ "TimeDistributed"; "at least 3 dimensions" ] (fun () -> TimeDistributed(Dense(2)).ComputeOutputShape(Shape 4) |> ignore)
            for layer in [ Bidirectional(GRU(3, returnSequences = true), mergeMode = "ave") :> Layer
                           Bidirectional(LSTM(2), mergeMode = null, backwardLayer = LSTM(2, goBackwards = true, activation = "relu"))
                           TimeDistributed(Dense(3, activation = "relu")) ] do
                Expect.equal (LayerConfig.Deserialize(LayerConfig.Serialize layer)) layer "config round trip"
            Expect.stringContains ((LayerConfig.Serialize(Bidirectional(LSTM(2)))).ToJsonString()) "\"merge_mode\":\"concat\"" "Keras's key"
        }
        test "Bidirectional numerics: each half is its direction's reference, the backward sequence aligned on the input steps; masks go to both" {
            torchReady 30
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let rng = Random(17)
            for masking in [ false; true ] do
                for merge in [ "concat"; "sum"; "mul"; "ave" ] do
                    for inner in [ LSTM(3, returnSequences = true, biasInitializer = RandomUniform(-0.5, 0.5), unitForgetBias = false) :> RecurrentLayer
                                   GRU(2, biasInitializer = RandomUniform(-0.5, 0.5)); SimpleRNN(2) ] do
                        let layer = Bidirectional(inner, merge)
                        let xs = data rng 3 5 4 masking
                        let x = G.Input(Shape([| Nullable(); Nullable 4 |]))
                        let seq = if masking then Masking(0.0).Call(x) else x
                        use net = BuiltNetwork.Build(Model([ x ], [ layer.Call(seq) ]))
                        use xt = tensorOf xs
                        let y = values (net.Forward([| xt |]).[0])
                        let f = directionReference net ("forward_" + inner.DefaultNameStem) inner xs masking
                        let b = directionReference net ("backward_" + inner.DefaultNameStem) (copyWith "GoBackwards" true inner) xs masking
                        let combine (a: float[]) (c: float[]) =
                            match merge with
                            | "concat" -> Array.append a c
                            | "sum" -> add a c
                            | "mul" -> mul a c
                            | _ -> Array.map2 (fun p q -> (p + q) / 2.0) a c
                        let want =
                            [| for (fo, _, _), (bo, _, _) in List.zip f b do
                                 if inner.ReturnSequences then
                                     let aligned = Array.rev bo
                                     for t in 0 .. fo.Length - 1 do yield! combine fo[t] aligned[t]
                                 else yield! combine fo[fo.Length - 1] bo[bo.Length - 1] |]
                        closeArrays (sprintf "%s %O masked=%b" merge inner masking) want y
        }
        test "Bidirectional with return_state and merge_mode None returns both halves, then each direction's states" {
            torchReady 31
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let xs = data (Random 4) 2 4 3 false
            let inner = LSTM(2, returnState = true)
            let x = G.Input(Shape([| Nullable(); Nullable 3 |]))
            let ys = Bidirectional(inner, mergeMode = null).CallMany(x) |> List.ofSeq
            Expect.equal ys.Length 6 "y_f, y_b, h_f, c_f, h_b, c_b"
            use net = BuiltNetwork.Build(Model([ x ], ys))
            use xt = tensorOf xs
            let outs = net.Forward([| xt |]) |> Seq.map values |> Array.ofSeq
            let f = directionReference net "forward_lstm" inner xs false
            let b = directionReference net "backward_lstm" (copyWith "GoBackwards" true inner) xs false
            let lasts r = r |> List.collect (fun (o: float[][], _, _) -> Array.toList o[o.Length - 1]) |> Array.ofList
            let hs r = r |> List.collect (fun (_, h: float[], _) -> Array.toList h) |> Array.ofList
            let cs r = r |> List.collect (fun (_, _, c: float[]) -> Array.toList c) |> Array.ofList
            closeArrays "forward output" (lasts f) outs[0]
            closeArrays "backward output" (lasts b) outs[1]
            closeArrays "forward h" (hs f) outs[2]
            closeArrays "forward c" (cs f) outs[3]
            closeArrays "backward h" (hs b) outs[4]
            closeArrays "backward c" (cs b) outs[5]
        }
        test "TimeDistributed(Dense) is the Dense on every step, with the Dense's weights; a Conv2D per frame in channels_last" {
            torchReady 32
            let x = G.Input(Shape([| Nullable(); Nullable 3 |]))
            use net = BuiltNetwork.Build(Model([ x ], [ TimeDistributed(Dense(2), Name = "td").Call(x) ]))
            Expect.equal (net.Weights |> Seq.map (fun w -> w.Name) |> List.ofSeq) [ "td/kernel"; "td/bias" ] "the wrapped layer's weights"
            use xt = torch.randn(2L, 5L, 3L)
            use y = net.Predict xt
            let k = net.Weights |> Seq.head |> fun w -> w.KerasView()
            let b = net.Weights |> Seq.item 1 |> fun w -> w.KerasView()
            use want = xt.matmul(k) + b
            Expect.isTrue (y.allclose(want, 1e-5, 1e-6)) "x · kernel + bias at each step"
            let frames = G.Input(4, 6, 5, 2)
            use conv = BuiltNetwork.Build(Model([ frames ], [ TimeDistributed(Conv2D(3, 2), Name = "tdc").Call(frames) ]))
            use single = BuiltNetwork.Build(Sequential(Input(6, 5, 2), Conv2D(3, 2, Name = "c")))
            for (w: WeightBinding), (v: WeightBinding) in Seq.zip single.Weights conv.Weights do
                use _ = torch.no_grad()
                w.Parameter.copy_(v.Parameter) |> ignore
            use clip = torch.randn([| 2L; 4L; 6L; 5L; 2L |])
            use y : torch.Tensor = conv.Predict(clip: torch.Tensor)
            Expect.sequenceEqual y.shape [| 2L; 4L; 5L; 4L; 3L |] "(frames, 5, 4, 3)"
            for t in 0L .. 3L do
                use frame = clip.select(1L, t)
                use one : torch.Tensor = single.Predict(frame: torch.Tensor)
                Expect.isTrue (y.select(1L, t).allclose(one, 1e-5, 1e-6)) (sprintf "frame %d is the Conv2D of that frame" t)
        }
    ]

let private cellTests =
    testList "cells, RNN(cell) and StackedRNNCells" [
        test "RNN(LSTMCell(u)) is LSTM(u): same weight names and shapes, same numbers with the same weights" {
            torchReady 40
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let xs = data (Random 9) 3 5 4 true
            for cell, layer in [ LSTMCell(3) :> RecurrentCell, LSTM(3) :> RecurrentLayer; GRUCell(2, resetAfter = false), GRU(2, resetAfter = false)
                                 SimpleRNNCell(2, activation = "relu"), SimpleRNN(2, activation = "relu") ] do
                let rnn = RNN(cell, returnSequences = true)
                let specs (l: Layer) = l.Parameters(Shape(5, 4)) |> Seq.map (fun p -> p.Name, p.Shape) |> List.ofSeq
                Expect.equal (specs rnn) (specs layer) "Keras's weights"
                Expect.equal (rnn.ParameterCount(Shape(5, 4))) (layer.ParameterCount(Shape(5, 4))) "count"
                let x = G.Input(Shape([| Nullable(); Nullable 4 |]))
                use a = BuiltNetwork.Build(Model([ x ], [ rnn.Call(Masking(0.0).Call(x)) ]))
                use b = BuiltNetwork.Build(modelOf (copyWith "ReturnSequences" true layer) 4 true)
                for (w: WeightBinding), (v: WeightBinding) in Seq.zip b.Weights a.Weights do
                    use _ = torch.no_grad()
                    w.Parameter.copy_(v.Parameter) |> ignore
                use xt = tensorOf xs
                closeArrays (sprintf "%O" cell) (values (b.Forward([| xt |]).[0])) (values (a.Forward([| xt |]).[0]))
        }
        test "StackedRNNCells: each step goes through every cell; masks, go_backwards and every cell's states as Keras's" {
            torchReady 41
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let rng = Random(21)
            for backwards in [ false; true ] do
                let stack = StackedRNNCells(LSTMCell(3, biasInitializer = RandomUniform(-0.5, 0.5), unitForgetBias = false), GRUCell(2, biasInitializer = RandomUniform(-0.5, 0.5)))
                let rnn = RNN(stack, returnSequences = true, returnState = true, goBackwards = backwards)
                Expect.equal rnn.OutputCount 4 "sequence, then h, c of the LSTM cell and h of the GRU cell"
                let xs = data rng 3 6 4 true
                let x = G.Input(Shape([| Nullable(); Nullable 4 |]))
                let ys = rnn.CallMany(Masking(0.0).Call(x)) |> List.ofSeq
                use net = BuiltNetwork.Build(Model([ x ], ys))
                Expect.equal (net.Weights |> Seq.map (fun w -> w.Name.Substring(w.Name.IndexOf '/' + 1)) |> List.ofSeq)
                    [ "lstm_cell/kernel"; "lstm_cell/recurrent_kernel"; "lstm_cell/bias"; "gru_cell/kernel"; "gru_cell/recurrent_kernel"; "gru_cell/bias" ] "named by cell"
                use xt = tensorOf xs
                let outs = net.Forward([| xt |]) |> Seq.map values |> Array.ofSeq
                let weight name = net.Weights |> Seq.find (fun (w: WeightBinding) -> w.Name.EndsWith("/" + name)) |> fun w -> w.KerasView()
                let want, hs1, cs1, hs2 =
                    [ for sample in xs ->
                        let mask = sample |> Array.map (fun step -> step |> Array.exists (fun v -> v <> 0.0))
                        let o1, h1, c1 =
                            reference Lstm (matrix (weight "lstm_cell/kernel")) (matrix (weight "lstm_cell/recurrent_kernel"))
                                      (Some (matrix ((weight "lstm_cell/bias").unsqueeze 0L))) 3 sample mask backwards false (Array.zeroCreate 3) (Array.zeroCreate 3)
                        // The second cell reads the first one's outputs in processing order, under the same step mask.
                        let processed = if backwards then Array.rev mask else mask
                        let o2, h2, _ =
                            reference (Gru true) (matrix (weight "gru_cell/kernel")) (matrix (weight "gru_cell/recurrent_kernel"))
                                      (Some (matrix (weight "gru_cell/bias"))) 2 o1 processed false false (Array.zeroCreate 2) (Array.zeroCreate 2)
                        Array.concat o2, h1, c1, h2 ]
                    |> List.fold (fun (a, b, c, d) (o, h1, c1, h2) -> Array.append a o, Array.append b h1, Array.append c c1, Array.append d h2) ([||], [||], [||], [||])
                closeArrays (sprintf "sequence, go_backwards=%b" backwards) want outs[0]
                closeArrays "LSTM cell h" hs1 outs[1]
                closeArrays "LSTM cell c" cs1 outs[2]
                closeArrays "GRU cell h" hs2 outs[3]
        }
        test "configs: RNN with a cell or a stack round-trips with Keras's keys; a layer that is not a cell is refused" {
            for layer in [ RNN(LSTMCell(3, dropout = 0.2), returnSequences = true) :> Layer
                           RNN(StackedRNNCells(SimpleRNNCell(2), GRUCell(4, resetAfter = false)), goBackwards = true, stateful = true) ] do
                Expect.equal (LayerConfig.Deserialize(LayerConfig.Serialize layer)) layer "round trip"
            let json = (LayerConfig.Serialize(RNN(StackedRNNCells(LSTMCell(3))))).ToJsonString()
            for key in [ "\"cell\":{"; "\"class_name\":\"StackedRNNCells\""; "\"cells\":["; "\"class_name\":\"LSTMCell\"" ] do
                Expect.stringContains json key "Keras's nesting"
            throwsWith<ArgumentException> [ "RNN"; "cell"; "Dense" ] (fun () -> RNN(Dense(2)) |> ignore)
            throwsWith<ArgumentException> [ "StackedRNNCells"; "cells" ] (fun () -> StackedRNNCells() |> ignore)
        }
        test "weights save and load by Keras name through the wrappers (safetensors): a fresh build gives the same outputs" {
            torchReady 43
            let model () =
                let x = G.Input(Shape([| Nullable(); Nullable 3 |]))
                let h = Bidirectional(LSTM(2, returnSequences = true), Name = "bi").Call(x)
                let y = RNN(StackedRNNCells(GRUCell(2), SimpleRNNCell(2)), Name = "stack").Call(h)
                Model([ x ], [ TimeDistributed(Dense(1), Name = "td").Call(RepeatVector(2).Call(y)) ])
            let path = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "h-rnn-%O.safetensors" (Guid.NewGuid()))
            try
                use a = BuiltNetwork.Build(model ())
                a.SaveWeights path
                torchReady 44
                use b = BuiltNetwork.Build(model ())
                b.LoadWeights path
                use x = torch.randn(2L, 5L, 3L)
                use ya = a.Predict(x: torch.Tensor)
                use yb = b.Predict(x: torch.Tensor)
                Expect.isTrue (ya.allclose(yb)) "same outputs after loading"
                Expect.contains (a.Weights |> Seq.map (fun w -> w.Name)) "bi/backward_lstm/recurrent_kernel" "Keras-style nested name"
                Expect.contains (a.Weights |> Seq.map (fun w -> w.Name)) "stack/simple_rnn_cell/kernel" "a stack's cell name"
            finally
                if IO.File.Exists path then IO.File.Delete path
        }
        test "a stateful stack keeps every cell's states until ResetStates" {
            torchReady 42
            use _ = DTypePolicy.Use(DTypePolicy.Float64)
            let xs = data (Random 2) 2 6 3 false
            use net = BuiltNetwork.Build(Sequential(Input(Shape([| Nullable(); Nullable 3 |])), RNN(StackedRNNCells(GRUCell(2), LSTMCell(2)), stateful = true)))
            use whole = tensorOf xs
            use first = whole.narrow(1L, 0L, 3L)
            use second = whole.narrow(1L, 3L, 3L)
            net.Forward([| first |]) |> ignore
            let continued = values (net.Forward([| second |]).[0])
            use fresh = BuiltNetwork.Build(Sequential(Input(Shape([| Nullable(); Nullable 3 |])), RNN(StackedRNNCells(GRUCell(2), LSTMCell(2)))))
            for (w: WeightBinding), (v: WeightBinding) in Seq.zip fresh.Weights net.Weights do
                use _ = torch.no_grad()
                w.Parameter.copy_(v.Parameter) |> ignore
            closeArrays "two halves = one whole" (values (fresh.Forward([| whole |]).[0])) continued
            net.ResetStates()
            closeArrays "after ResetStates" (values (fresh.Forward([| first |]).[0])) (values (net.Forward([| first |]).[0]))
        }
    ]

[<Tests>]
let tests = testSequenced <| testList "Recurrent" [ shapeTests; numericTests; fusedTests; embeddingTests; wrapperTests; cellTests ]
