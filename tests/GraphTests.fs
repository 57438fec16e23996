/// Functional graphs (Keras's functional API): the blocks the issue names, Keras's naming, ordering and summary format,
/// declaration-time rejection of invalid graphs, and built graphs — inferred shapes equal real forward shapes on
/// generated graphs, shared layers share one set of weights, and values agree with Sequential and with hand-set weights.
module Functional.Tests.GraphTests

open System
open System.IO
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
open Functional.Training
open Functional.Torch.Data
open Functional.Torch.Training
open Functional.Torch.Formats
open Functional.Torch.Saving
open Functional.Tests.Support

type G = Functional.Models.Graph

let residualBlock () =
    let x = G.Input(8, 8, 16)
    let y = Conv2D(16, 3, padding = "same", activation = "relu").Call x
    let y = Conv2D(16, 3, padding = "same").Call y
    let out = Activation("relu").Call(Add().Call(y, x))
    Model(x, out)

let inceptionBlock () =
    let x = G.Input(16, 16, 32)
    let b1 = Conv2D(16, 1, padding = "same", activation = "relu").Call x
    let b2 = Conv2D(24, 1, padding = "same", activation = "relu").Call x
    let b2 = Conv2D(32, 3, padding = "same", activation = "relu").Call b2
    let b3 = Conv2D(4, 1, padding = "same", activation = "relu").Call x
    let b3 = Conv2D(8, 5, padding = "same", activation = "relu").Call b3
    let b4 = MaxPooling2D(3, 1, padding = "same").Call x
    let b4 = Conv2D(8, 1, padding = "same", activation = "relu").Call b4
    Model(x, Concatenate().Call(b1, b2, b3, b4), name = "inception")

/// DenseNet: each layer sees the concatenation of all earlier feature maps and adds `growth` channels.
let denseBlock layers growth =
    let x = G.Input(8, 8, 16)
    let mutable features = x
    for _ in 1 .. layers do
        let y = Conv2D(growth, 3, padding = "same", activation = "relu").Call features
        features <- Concatenate().Call(features, y)
    Model(x, features, name = "dense_block")

/// Squeeze-and-excitation: channel weights from global pooling, two Dense layers and a sigmoid, multiplied back.
let seBlock channels ratio =
    let x = G.Input(8, 8, channels)
    let s = GlobalAveragePooling2D().Call x
    let s = Dense(channels / ratio, activation = "relu").Call s
    let s = Dense(channels, activation = "sigmoid").Call s
    let s = Reshape((1, 1, channels)).Call s
    Model(x, Multiply().Call(x, s), name = "se_block")

/// Two inputs, two outputs: title and body features, a priority score and a department distribution.
let twoInTwoOut () =
    let title = G.Input(Shape 10, "title")
    let body = G.Input(Shape 20, "body")
    let features = Concatenate().Call(Dense(8, activation = "relu").Call title, Dense(8, activation = "relu").Call body)
    let priority = Dense(1, activation = "sigmoid", Name = "priority").Call features
    let department = Dense(4, activation = "softmax", Name = "department").Call features
    Model([ title; body ], [ priority; department ], name = "ticket_router")

let rowNames (m: Model) = m.Operations |> Seq.map (fun o -> o.Name) |> List.ofSeq

// ---- Generated graphs: a recipe of integer choices, interpreted into a valid graph over vectors and images ----

type Step =
    | Unary of source: int * kind: int * a: int * b: int
    | Merge of left: int * right: int * kind: int
    | Reuse of layer: int * source: int

type Recipe = { Inputs: int list list; Steps: Step list }

let recipe =
    gen {
        let image =
            gen {
                let! h = Gen.choose (3, 9)
                let! w = Gen.choose (3, 9)
                let! c = Gen.choose (1, 4)
                return [ h; w; c ]
            }
        let inputShape = Gen.oneof [ Gen.map (fun n -> [ n ]) (Gen.choose (1, 8)); image ]
        let! count = Gen.choose (1, 2)
        let! inputs = Gen.listOfLength count inputShape
        let nat = Gen.choose (0, 1000)
        let step =
            Gen.frequency [ 6, Gen.map4 (fun s k a b -> Unary(s, k, a, b)) nat nat nat nat
                            3, Gen.map3 (fun l r k -> Merge(l, r, k)) nat nat nat
                            1, Gen.map2 (fun l s -> Reuse(l, s)) nat nat ]
        let! steps = Gen.choose (1, 8) |> Gen.bind (fun n -> Gen.listOfLength n step)
        return { Inputs = inputs; Steps = steps }
    }

let private unaryFor (shape: Shape) (kind: int) (a: int) (b: int) : Layer option =
    match shape.Rank with
    | 3 ->
        let h, w = shape.Known(0), shape.Known(1)
        match kind % 10 with
        | 0 -> Some(Conv2D(1 + a % 4, IntTuple(1 + b % 3), padding = "same", activation = "relu"))
        | 1 when h >= 3 && w >= 3 -> Some(Conv2D(1 + a % 4, 3))
        | 2 -> Some(MaxPooling2D(2, padding = "same"))
        | 3 -> Some(Activation("relu"))
        | 4 -> Some(GlobalAveragePooling2D())
        | 5 -> Some(Flatten())
        | 6 -> Some(AveragePooling2D(2, padding = "same"))
        | 7 -> Some(Dropout(0.3))
        | 8 -> Some(BatchNormalization())
        | _ -> Some(Conv2D(1 + a % 3, 3, strides = 2, padding = "same"))
    | 2 ->
        match kind % 3 with
        | 0 -> Some(Conv1D(1 + a % 4, IntTuple(1 + b % 3), padding = "same"))
        | 1 -> Some(Dense(1 + a % 5))
        | _ -> Some(Flatten())
    | _ ->
        match kind % 5 with
        | 0 | 1 -> Some(Dense(1 + a % 6, activation = ActivationFunction(if b % 2 = 0 then "relu" else "tanh")))
        | 2 -> Some(Activation("sigmoid"))
        | 3 -> Some(Dropout(0.5))
        | _ when shape.Known(0) % 2 = 0 -> Some(Reshape((shape.Known(0) / 2, 2)))
        | _ -> Some(Dense(2))

/// Interprets a recipe: every step that fits the shapes at hand adds a node; the outputs are every tensor nothing consumes.
let graphOf (r: Recipe) =
    let tensors = ResizeArray<SymbolicTensor>()
    let consumed = Collections.Generic.HashSet<SymbolicTensor>(HashIdentity.Reference)
    let applied = ResizeArray<Layer * Shape>()
    let inputs = r.Inputs |> List.map (fun dims -> G.Input(Array.ofList dims))
    tensors.AddRange inputs
    let pick i = tensors.[i % tensors.Count]
    for step in r.Steps do
        match step with
        | Unary(s, k, a, b) when (pick s).Shape.Rank = 1 && k % 7 = 6 ->
            // A whole model used as a layer.
            let t = pick s
            let inner = Sequential(sprintf "tower_%d" tensors.Count, [ Input(t.Shape.[0]) :> Layer; Dense(1 + a % 4, activation = "relu"); Dense(1 + b % 3) ])
            tensors.Add(inner.Call t)
            consumed.Add t |> ignore
        | Unary(s, k, a, b) ->
            let t = pick s
            match unaryFor t.Shape k a b with
            | Some layer ->
                tensors.Add(layer.Call t)
                consumed.Add t |> ignore
                applied.Add((layer, t.Shape))
            | None -> ()
        | Merge(l, rr, k) ->
            let a, b = pick l, pick rr
            let merge: Layer option =
                if a.Shape = b.Shape then
                    Some(match k % 5 with
                         | 0 -> Add() :> Layer
                         | 1 -> Multiply()
                         | 2 -> Maximum()
                         | 3 -> Average()
                         | _ -> Subtract())
                elif a.Shape.Rank = b.Shape.Rank && Seq.forall2 (=) (Seq.take (a.Shape.Rank - 1) a.Shape) (Seq.take (a.Shape.Rank - 1) b.Shape) then
                    Some(Concatenate())
                else None
            match merge with
            | Some m ->
                tensors.Add(m.Call(a, b))
                consumed.Add a |> ignore
                consumed.Add b |> ignore
            | None -> ()
        | Reuse(l, s) when applied.Count > 0 ->
            // Apply an earlier layer instance again — a shared layer — to a tensor of the shape it was first applied to.
            let layer, shape = applied.[l % applied.Count]
            match tensors |> Seq.tryFind (fun t -> t.Shape = shape && not (obj.ReferenceEquals(t, pick s))) with
            | Some t when not (layer :? Input) ->
                tensors.Add(layer.Call t)
                consumed.Add t |> ignore
            | _ -> ()
        | Reuse _ -> ()
    let outputs = tensors |> Seq.filter (fun t -> not (consumed.Contains t)) |> List.ofSeq
    Model(inputs, outputs)

let graphs = Arb.fromGen (recipe |> Gen.map graphOf)

let inputsFor (m: Model) = m.InputShapes |> Seq.map (fun s -> torch.randn(s.WithBatch 2L)) |> List.ofSeq

let setAll (built: BuiltNetwork) (value: float) (select: WeightBinding -> bool) =
    use _ = torch.no_grad ()
    for w in built.Weights do
        if select w then w.Parameter.fill_(value) |> ignore

let copyWeights (source: BuiltNetwork) (target: BuiltNetwork) =
    use _ = torch.no_grad ()
    let byName = source.Weights |> Seq.map (fun w -> w.Name, w.Parameter) |> Map.ofSeq
    for w in target.Weights do w.Parameter.copy_(byName.[w.Name]) |> ignore

[<Tests>]
let tests =
    testList "Functional graphs" [
        test "a residual block: shapes, Keras's names and order, Add of the shortcut, 4,640 params" {
            let m = residualBlock ()
            Expect.equal (List.ofSeq m.OutputShapes) [ Shape(8, 8, 16) ] "output"
            Expect.equal (rowNames m) [ "input_layer"; "conv2d"; "conv2d_1"; "add"; "activation" ] "rows in Keras's order"
            Expect.equal m.ParameterCount 4640L "2 × (3·3·16·16 + 16)"
            Expect.equal (m.GetLayer "add").Nodes.[0].Inputs.[1] (TensorRef("input_layer", 0, 0)) "the shortcut is the input"
        }

        test "an Inception block: parallel 1×1/3×3/5×5/pool branches concatenated along channels, in Keras's row order" {
            let m = inceptionBlock ()
            Expect.equal (List.ofSeq m.OutputShapes) [ Shape(16, 16, 16 + 32 + 8 + 8) ] "channels add up"
            Expect.equal (rowNames m)
                [ "input_layer"; "conv2d_1"; "conv2d_3"; "max_pooling2d"; "conv2d"; "conv2d_2"; "conv2d_4"; "conv2d_5"; "concatenate" ]
                "Keras: by depth from the output, ties in the order the output's inputs are visited"
            let conv k i o = int64 (k * k * i * o + o)
            Expect.equal m.ParameterCount (conv 1 32 16 + conv 1 32 24 + conv 3 24 32 + conv 1 32 4 + conv 5 4 8 + conv 1 32 8) "params"
        }

        test "a DenseNet block: each layer adds `growth` channels to the concatenation of all earlier ones" {
            let m = denseBlock 4 12
            Expect.equal (List.ofSeq m.OutputShapes) [ Shape(8, 8, 16 + 4 * 12) ] "16 + 4·12 channels"
            let expected = [ 0 .. 3 ] |> List.sumBy (fun i -> int64 (3 * 3 * (16 + i * 12) * 12 + 12))
            Expect.equal m.ParameterCount expected "Σ 3·3·(16 + 12i)·12 + 12"
        }

        test "an SE block: GlobalAveragePooling → Dense → Dense(sigmoid) → Reshape → Multiply keeps the input shape" {
            let m = seBlock 32 4
            Expect.equal (List.ofSeq m.OutputShapes) [ Shape(8, 8, 32) ] "same shape as the input"
            Expect.equal m.ParameterCount (int64 (32 * 8 + 8 + 8 * 32 + 32)) "the two Dense layers"
            Expect.equal (m.GetLayer "multiply").Nodes.[0].InputShapes.[1] (Shape(1, 1, 32)) "broadcast channel weights"
        }

        test "a two-input, two-output model keeps its inputs and outputs in order, with their names" {
            let m = twoInTwoOut ()
            Expect.equal (List.ofSeq m.InputShapes) [ Shape 10; Shape 20 ] "inputs"
            Expect.equal (List.ofSeq m.OutputShapes) [ Shape 1; Shape 4 ] "outputs"
            Expect.equal (m.Inputs |> Seq.map (fun r -> r.Layer) |> List.ofSeq) [ "title"; "body" ] "input names"
            Expect.equal (m.Outputs |> Seq.map (fun r -> r.Layer) |> List.ofSeq) [ "priority"; "department" ] "output names"
        }

        test "the summary has Keras's Connected to column, wrapped as Keras wraps it at 76 columns" {
            let s = (residualBlock ()).Summary()
            let lines = s.Split '\n'
            Expect.equal lines.[1] "┏━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓" "76-column frame"
            Expect.equal lines.[2] "┃ Layer (type)        ┃ Output Shape      ┃    Param # ┃ Connected to      ┃" "header"
            for row in [ "│ input_layer         │ (None, 8, 8, 16)  │          0 │ -                 │"
                         "│ (InputLayer)        │                   │            │                   │"
                         "│ conv2d (Conv2D)     │ (None, 8, 8, 16)  │      2,320 │ input_layer[0][0] │"
                         "│ add (Add)           │ (None, 8, 8, 16)  │          0 │ conv2d_1[0][0],   │"
                         "│                     │                   │            │ input_layer[0][0] │"
                         "│ activation          │ (None, 8, 8, 16)  │          0 │ add[0][0]         │"
                         "│ (Activation)        │                   │            │                   │" ] do
                Expect.contains lines row row
            Expect.stringContains s " Total params: 4,640 (18.12 KB)" "total"
        }

        test "a plain chain declared as a graph prints as Keras prints it: no Connected to column" {
            let x = G.Input(4)
            let m = Model(x, Dense(2).Call(Dense(3).Call x))
            Expect.isTrue m.SequentialLike "sequential-like"
            Expect.isFalse ((m.Summary()).Contains "Connected to") "no connections column"
            Expect.stringContains (m.Summary()) "│ input_layer (InputLayer)        │ (None, 4)              │             0 │" "input row"
        }

        test "a nested model is one row with its total parameter count, and Connected to names its calls" {
            let inner = Sequential("encoder", [ Input(8) :> Layer; Dense(16); Dense(4) ])
            let x = G.Input(8)
            let m = Model(x, Dense(2).Call(Concatenate().Call(inner.Call x, x)))
            let row = m.Summarize().Rows |> Seq.find (fun r -> r.Name = "encoder")
            Expect.equal row.ClassName "Sequential" "class"
            Expect.equal row.Parameters inner.ParameterCount "total of the nested model"
            Expect.equal m.ParameterCount (inner.ParameterCount + 26L) "counted once, plus Dense(2) on 12 features"
            Expect.stringContains (m.Summary()) "│ encoder             │ (None, 4)         │        212 │ input_layer[0][0] │" "one row"
            Expect.stringContains (m.Summary()) "│ concatenate         │ (None, 12)        │          0 │ encoder[0][0],    │" "connected to its call"
        }

        test "a shared layer is one row, counted once, connected to each of its calls" {
            let a, b = G.Input(Shape 6, "a"), G.Input(Shape 6, "b")
            let shared = Dense(3)
            let m = Model([ a; b ], [ shared.Call a; shared.Call b ])
            Expect.equal m.Operations.Length 3 "two inputs and one Dense"
            Expect.equal m.ParameterCount 21L "6·3 + 3 once"
            let s = m.Summary()
            Expect.stringContains s "a[0][0], b[0][0]" "both calls"
            Expect.equal m.Outputs.[1] (TensorRef("dense", 1, 0)) "second call is node 1"
        }

        propertyWith pureConfig "summary totals equal the sum of the layer rows, and trainable + non-trainable = total (generated graphs)" graphs (fun m ->
            let s = m.Summarize()
            s.TotalParameters = (s.Rows |> Seq.sumBy (fun r -> r.Parameters))
            && s.TotalParameters = m.ParameterCount
            && s.TrainableParameters + s.NonTrainableParameters = s.TotalParameters
            && s.Rows.Length = m.Operations.Length)

        testList "invalid graphs are rejected when declared" [
            test "mismatched merge shapes name the merge layer and both shapes" {
                let x = G.Input(4, 4, 8)
                let y = Conv2D(16, 1).Call x
                throwsWith<ShapeException> [ "Add"; "(4, 4, 16)"; "(4, 4, 8)"; "incompatible" ] (fun () -> Add().Call(y, x) |> ignore)
            }

            test "a layer applied to an incompatible shape fails on that call, naming the layer and the shape" {
                let x = G.Input(10)
                throwsWith<ShapeException> [ "Conv2D"; "(None, 10)"; "rank 3" ] (fun () -> Conv2D(4, 3).Call x |> ignore)
            }

            test "an input that reaches no output is rejected" {
                let a, b = G.Input(Shape 4, "used"), G.Input(Shape 4, "unused")
                throwsWith<ArgumentException> [ "Input 1"; "unused"; "does not reach any output" ] (fun () ->
                    Model([ a; b ], [ Dense(2).Call a ]) |> ignore)
            }

            test "an output that needs an input the model was not given is a disconnected graph" {
                let a, b = G.Input(Shape 4, "a"), G.Input(Shape 4, "b")
                let y = Add().Call(Dense(2).Call a, Dense(2).Call b)
                throwsWith<ArgumentException> [ "Graph disconnected"; "'b'"; "not among the model's inputs" ] (fun () -> Model(a, y) |> ignore)
            }

            test "a shared layer whose weights cannot fit all its uses is rejected, naming both shapes" {
                let a, b = G.Input(8), G.Input(16)
                let shared = Dense(4)
                throwsWith<ArgumentException> [ "Dense 'dense' is shared"; "(None, 16)"; "kernel (16, 4)"; "kernel (8, 4)" ] (fun () ->
                    Model([ a; b ], [ shared.Call a; shared.Call b ]) |> ignore)
            }

            test "two layers with one name are rejected, as in Keras" {
                let x = G.Input(4)
                throwsWith<ArgumentException> [ "unique names"; "'head'" ] (fun () ->
                    Model(x, Dense(2, Name = "head").Call(Dense(3, Name = "head").Call x)) |> ignore)
            }

            test "an Input cannot be applied to tensors, and model inputs must be Input tensors" {
                let x = G.Input(4)
                throwsWith<ArgumentException> [ "model input"; "cannot be applied" ] (fun () -> Input(4).Call x |> ignore)
                let y = Dense(3).Call x
                throwsWith<ArgumentException> [ "Model inputs must be tensors made by Input" ] (fun () -> Model(y, Dense(2).Call y) |> ignore)
            }

            test "a nested model applied to the wrong shape names the model and both shapes" {
                let inner = Sequential(Input(8), Dense(2))
                throwsWith<ArgumentException> [ "Sequential 'sequential'"; "(None, 8)"; "(None, 9)" ] (fun () -> inner.Call(G.Input(9)) |> ignore)
            }

            test "cycles cannot be built from tensors: every tensor exists before the node that consumes it" {
                // A node's inputs are fixed when it is made, and nothing in a graph is mutable, so the only way to
                // describe a cycle is a config document (ConfigTests checks that it is rejected there, naming the layers).
                let x = G.Input(4)
                let y = Dense(4).Call x
                Expect.isTrue (obj.ReferenceEquals(y.Node.Inputs.[0], x)) "a node's inputs are the tensors it was applied to"
                Expect.isTrue (y.Node.Sequence > x.Node.Sequence) "and were made before it"
            }
        ]

        testSequenced <| testList "built graphs" [
            propertyWith torchConfig "inferred shapes equal the real forward shapes, and Σ numel equals the counted parameters (generated graphs)" graphs (fun m ->
                torchReady 11
                use scope = torch.NewDisposeScope()
                use built = BuiltNetwork.Build m
                let outputs = built.Forward(inputsFor m)
                let numel = built.parameters () |> Seq.sumBy (fun p -> p.numel ())
                Seq.forall2 (fun (o: torch.Tensor) (s: Shape) -> o.shape = s.WithBatch 2L) outputs m.OutputShapes
                && numel = m.ParameterCount
                && (built.Weights |> Seq.filter (fun w -> w.Trainable) |> Seq.sumBy (fun w -> w.Parameter.numel ())) = m.TrainableParameterCount)

            test "a shared layer is one set of weights: a gradient step through one use changes the other use" {
                torchReady 12
                let run shared =
                    let a, b = G.Input(Shape 5, "a"), G.Input(Shape 5, "b")
                    let first = Dense(3)
                    let second = if shared then first else Dense(3)
                    use built = BuiltNetwork.Build(Model([ a; b ], [ first.Call a; second.Call b ]))
                    use xa = torch.randn(4L, 5L)
                    use xb = torch.randn(4L, 5L)
                    use before = built.Forward([ xa; xb ]).[0].detach()
                    let optimizer = torch.optim.SGD(built.TrainableParameters, 0.5)
                    built.train ()
                    optimizer.zero_grad ()
                    let outputs = built.Forward([ xa; xb ])
                    use loss = outputs.[1].square().sum()   // only the use on b feeds the loss
                    loss.backward ()
                    optimizer.step () |> ignore
                    built.eval ()
                    use after = built.Forward([ xa; xb ]).[0].detach()
                    Seq.length built.Weights, before.allclose(after)
                let sharedWeights, sharedUnchanged = run true
                let separateWeights, separateUnchanged = run false
                Expect.equal sharedWeights 2 "one kernel and one bias"
                Expect.equal separateWeights 4 "two layers, two sets"
                Expect.isFalse sharedUnchanged "the use on a changed: it is the same kernel"
                Expect.isTrue separateUnchanged "separate layers: the use on a is untouched"
            }

            test "a chain declared as a graph computes exactly what the Sequential computes (same weights)" {
                torchReady 13
                let seq = ModelTests.seedCnn ()
                let x = G.Input(28, 28, 1)
                let graph = Model(x, seq.Layers |> Seq.fold (fun (t: SymbolicTensor) l -> l.Call t) x)
                use sequential = BuiltNetwork.Build seq
                use built = BuiltNetwork.Build graph
                copyWeights sequential built
                use input = torch.randn(3L, 28L, 28L, 1L)
                use expected = sequential.forward input
                use actual = built.forward input
                Expect.isTrue (expected.allclose(actual, 1e-5, 1e-6)) "same outputs"
            }

            test "residual block with zero convolutions is relu(x): the shortcut is added in the Keras layout" {
                torchReady 14
                use built = BuiltNetwork.Build(residualBlock ())
                setAll built 0.0 (fun _ -> true)
                use x = torch.randn(2L, 8L, 8L, 16L)
                use y = built.forward x
                use expected = torch.nn.functional.relu x
                Expect.isTrue (y.allclose expected) "relu(0 + x)"
            }

            test "Inception branches land in the concatenation in order: branch i's channels carry its bias" {
                torchReady 15
                let m = inceptionBlock ()
                use built = BuiltNetwork.Build m
                setAll built 0.0 (fun w -> w.Name.EndsWith "kernel")
                // The last conv of each branch (in call order): conv2d (16 ch), conv2d_2 (32), conv2d_4 (8), conv2d_5 (8).
                for name, value in [ "conv2d", 1.0; "conv2d_2", 2.0; "conv2d_4", 3.0; "conv2d_5", 4.0 ] do
                    setAll built value (fun w -> w.Name = name + "/bias")
                use x = torch.randn(1L, 16L, 16L, 32L)
                use y = built.forward x
                let channel c = y.[0L, 5L, 7L, int64 c].item<float32>()
                let expected = List.replicate 16 1.0f @ List.replicate 32 2.0f @ List.replicate 8 3.0f @ List.replicate 8 4.0f
                Expect.equal [ for c in 0 .. 63 -> channel c ] expected "channel blocks in branch order"
            }

            test "SE block scales each channel by sigmoid of its excitation: zero Dense weights give x · sigmoid(0)" {
                torchReady 16
                use built = BuiltNetwork.Build(seBlock 16 4)
                setAll built 0.0 (fun _ -> true)
                use x = torch.randn(2L, 8L, 8L, 16L)
                use y = built.forward x
                use expected = x * 0.5
                Expect.isTrue (y.allclose expected) "x · 0.5"
            }

            test "two inputs and two outputs run together; a nested model inside a graph computes what it computes alone" {
                torchReady 17
                let m = twoInTwoOut ()
                use built = BuiltNetwork.Build m
                let outputs = built.Forward([ torch.randn(3L, 10L); torch.randn(3L, 20L) ])
                Expect.equal (outputs |> Seq.map (fun t -> List.ofArray t.shape) |> List.ofSeq) [ [ 3L; 1L ]; [ 3L; 4L ] ] "output shapes"
                Expect.isTrue ((outputs.[1].sum(1L) - 1.0f).abs().max().item<float32>() < 1e-5f) "softmax rows"
                let inner = Sequential("encoder", [ Input(6) :> Layer; Dense(5, activation = "tanh"); Dense(4) ])
                let x = G.Input(6)
                use outer = BuiltNetwork.Build(Model(x, inner.Call x))
                use xs = torch.randn(2L, 6L)
                use alone = (outer.["encoder"] :?> BuiltNetwork).forward xs
                use inside = outer.forward xs
                Expect.isTrue (alone.allclose inside) "same values"
                Expect.contains (outer.Weights |> Seq.map (fun w -> w.Name)) "encoder/dense/kernel" "nested weights are prefixed"
            }

            test "a shared layer runs on inputs of different shapes whenever its weights fit; otherwise the build names it" {
                torchReady 19
                let a, b = G.Input(8, 8, 3), G.Input(6, 5, 3)
                let shared = Conv2D(4, 3, padding = "same")
                let m = Model([ a; b ], [ shared.Call a; shared.Call b ])
                Expect.equal m.ParameterCount (int64 (3 * 3 * 3 * 4 + 4)) "one kernel"
                use built = BuiltNetwork.Build m
                use x8 = torch.rand(2L, 8L, 8L, 3L)
                use x6 = torch.rand(2L, 6L, 5L, 3L)
                let outs = built.Forward([ x8; x6 ], ForwardContext.Inference)
                Expect.sequenceEqual outs.[0].shape [| 2L; 8L; 8L; 4L |] "first use"
                Expect.sequenceEqual outs.[1].shape [| 2L; 6L; 5L; 4L |] "second use, same module"
                // The same weights on the second input alone, through a one-use model of the same layer.
                let single = Model(b, shared.Call b)
                use alone = BuiltNetwork.Build single
                let file = IO.Path.Combine(IO.Path.GetTempPath(), sprintf "shared-%s.safetensors" (Guid.NewGuid().ToString("N")))
                try
                    Saving.WeightFiles.SaveWeights(built, file)
                    Saving.WeightFiles.LoadWeights(alone, file)
                finally IO.File.Delete file
                use expected = alone.Forward([ x6 ], ForwardContext.Inference).[0]
                Expect.isTrue (expected.allclose outs.[1]) "same values as the layer alone"
                // Dense's kernel fits inputs of rank 1 and 2 alike, but a built layer is built for one rank.
                let v, s = G.Input(4), G.Input(3, 4)
                let dense = Dense(2)
                throwsWith<NotSupportedException> [ "Dense 'dense' is shared"; "(None, 4)"; "(None, 3, 4)"; "rank" ] (fun () ->
                    BuiltNetwork.Build(Model([ v; s ], [ dense.Call v; dense.Call s ])) |> ignore)
            }

            test "a two-input, two-output graph trains with compile/fit: each output's loss falls" {
                torchReady 20
                let m = twoInTwoOut ()
                use built = BuiltNetwork.Build m
                let compiled = built.Compile(Adam(0.01), [| MeanSquaredError() :> Loss; CategoricalCrossentropy() |], null, null)
                use title = torch.randn(64L, 10L)
                use body = torch.randn(64L, 20L)
                use priority = torch.sigmoid(title.sum(1L, keepdim = true))
                use classes = body.argmax(1L).remainder(torch.tensor 4L)
                use department = torch.nn.functional.one_hot(classes, 4L).to_type(torch.float32)
                let history: History = compiled.Fit([ title; body ], [ priority; department ], batchSize = 16, epochs = 8, verbose = Verbose.op_Implicit 0)
                let loss = history.["loss"]
                Expect.isLessThan loss.[loss.Count - 1] loss.[0] "the total loss falls"
            }

            test "a built graph rejects the wrong number or shape of inputs, naming the expected shape" {
                torchReady 18
                use built = BuiltNetwork.Build(twoInTwoOut ())
                throwsWith<ArgumentException> [ "takes 2 input(s)" ] (fun () -> built.Forward([ torch.randn(1L, 10L) ]) |> ignore)
                throwsWith<ArgumentException> [ "input 1 ('body')"; "(None, 20)"; "(1, 21)" ] (fun () ->
                    built.Forward([ torch.randn(1L, 10L); torch.randn(1L, 21L) ]) |> ignore)
            }
        ]
    ]

/// The chain graph a Sequential declares, written with the functional API: the same layer records, so the same names.
let chainOf (seq: Sequential) =
    let x = G.Input(seq.Input.Shape, "input_layer")
    Model(x, seq.Layers |> Seq.fold (fun (t: SymbolicTensor) l -> l.Call t) x, seq.Name)

/// A Sequential whose layers compute in all three layouts: channels-first convolution and pooling, layout-free
/// BatchNormalization/Activation in between, then channels-last Flatten and Dense.
let mixedCnn () =
    Sequential(
        Input(28, 28, 1),
        Conv2D(8, 3, padding = "same"), BatchNormalization(), Activation(ActivationFunction "relu"), MaxPooling2D(2),
        Conv2D(16, 3, strides = 2), Activation(ActivationFunction "relu"), GlobalAveragePooling2D(), Dense(10, activation = "softmax"))

let private weightsEqual (a: BuiltNetwork) (b: BuiltNetwork) =
    Seq.forall2 (fun (x: WeightBinding) (y: WeightBinding) -> x.Name = y.Name && x.Parameter.allclose(y.Parameter, 0.0, 0.0)) a.Weights b.Weights

[<Tests>]
let executorTests =
    testList "One executor" [
        test "a Sequential declares its chain graph: one input, one output, its layers in order, equal to the same chain written as a graph" {
            for seq in [ ModelTests.seedCnn (); mixedCnn () ] do
                let graph = seq.AsGraph()
                Expect.equal graph (chainOf seq) "the chain written with the functional API"
                Expect.equal (graph.Operations |> Seq.map (fun o -> o.Name) |> List.ofSeq)
                    ("input_layer" :: (seq.Layers |> Seq.map (fun l -> l.Name) |> List.ofSeq)) "input, then the layers"
                Expect.isTrue graph.SequentialLike "a chain"
                Expect.equal (List.ofSeq graph.OutputShapes) [ seq.OutputShape ] "same output"
                Expect.equal graph.ParameterCount seq.ParameterCount "same weights"
                Expect.isTrue (obj.ReferenceEquals(graph, seq.AsGraph())) "made once"
                Expect.isTrue (seq.ToJson().Contains "\"class_name\": \"Sequential\"") "the Sequential keeps Keras's Sequential JSON"
                Expect.isFalse (seq.Summary().Contains "InputLayer") "and Keras's Sequential summary (no input row)"
        }

        test "a named Input cannot share its name with a layer of the Sequential" {
            throwsWith<ArgumentException> [ "unique names"; "'dense'" ] (fun () ->
                Sequential(Input(4, Name = "dense"), Dense(2, Name = "dense")) |> ignore)
            let s = Sequential(Input(4, Name = "dense"), Dense(2))
            Expect.equal (s.Layers.[0].Name) "dense_1" "a default name skips the input's"
            Expect.equal (s.AsGraph().Inputs.[0].Layer) "dense" "the chain graph keeps the input's name"
        }

        test "graph operations are a closed set: a layer (Input included) or a model used as a layer" {
            let inner = Sequential("encoder", [ Input(6) :> Layer; Dense(4) ])
            let x = G.Input(6)
            let y = Dense(3).Call(inner.Call x)
            let m = Model(x, y)
            let kinds =
                m.Operations
                |> Seq.map (fun o -> o.Operation.Match((fun l -> if l :? Input then "input" else "layer"), (fun (n: IModel) -> "model " + n.Name)))
                |> List.ofSeq
            Expect.equal kinds [ "input"; "model encoder"; "layer" ] "each operation's case"
            Expect.isTrue (m.GetLayer("encoder").Operation.Model = (inner :> IModel)) "the nested model"
            Expect.equal (m.GetLayer("encoder").ClassName) "Sequential" "its class name"
            Expect.isTrue (y.Node.Operation.Layer :? Dense) "a node applies a layer"
            Expect.equal (GraphOperation.Of(Dense(3)).OutputCount) 1 "a layer makes one tensor"
        }

        test "a Sequential, its chain graph and a graph nesting it build into one executor and give identical outputs on MNIST digits" {
            torchReady 31
            let images, _ = AsyncTests.digits.Force()
            use x = images.narrow(0L, 0L, 64L)
            for seq in [ ModelTests.seedCnn (); mixedCnn () ] do
                use fromSequential = BuiltNetwork.Build seq
                use fromGraph = BuiltNetwork.Build(chainOf seq)
                let input = G.Input(28, 28, 1)
                use nesting = BuiltNetwork.Build(Model(input, seq.Call input))
                Expect.equal (fromSequential.GetType()) (fromGraph.GetType()) "one executor type"
                Expect.equal (fromSequential.GetType()) (nesting.GetType()) "nested models too"
                Expect.isTrue (obj.ReferenceEquals(fromSequential.Declaration, seq)) "the declaration is the Sequential"
                Expect.equal fromSequential.Graph (seq.AsGraph()) "it runs the Sequential's chain graph"
                copyWeights fromSequential fromGraph
                use _ = torch.no_grad ()
                let prefix = seq.Name + "/"
                for w in nesting.Weights do
                    let source = fromSequential.Weights |> Seq.find (fun s -> prefix + s.Name = w.Name)
                    w.Parameter.copy_(source.Parameter) |> ignore
                use expected = fromSequential.Predict(x, batchSize = 32)
                use actual = fromGraph.Predict(x, batchSize = 32)
                use nested = nesting.Predict(x, batchSize = 32)
                Expect.sequenceEqual expected.shape [| 64L; 10L |] "ten probabilities per digit"
                Expect.isTrue (expected.allclose(actual, 0.0, 0.0)) $"{seq.Name}: the graph's outputs are the Sequential's, bit for bit"
                Expect.isTrue (expected.allclose(nested, 0.0, 0.0)) $"{seq.Name}: so are the nesting graph's"
                // An independent reference for the permute planner: each layer alone, moved into the layout it computes in
                // and back after every layer (the executor permutes only where a run of layouts changes).
                use reference =
                    let run (h: torch.Tensor) (layer: BuiltLayer) =
                        if layer.Layout = PhysicalLayout.ChannelsFirst then
                            use nchw = h.permute(0L, 3L, 1L, 2L).contiguous()
                            let out = layer.Forward([ nchw ], ForwardContext.Inference)
                            if out.dim() = 4L then out.permute(0L, 2L, 3L, 1L).contiguous() else out   // global pooling: (batch, channels)
                        else layer.Forward([ h ], ForwardContext.Inference)
                    fromSequential.BuiltLayers |> Seq.fold run x
                Expect.isTrue (expected.allclose(reference, 1e-5, 1e-6)) $"{seq.Name}: layer by layer, permuting around each, gives the same"
        }

        test "a weights file is part of the declaration: any graph built from it loads the file, nested or not" {
            torchReady 32
            let path = Path.Combine(Path.GetTempPath(), sprintf "functional-exec-%s.safetensors" (Guid.NewGuid().ToString("N")))
            try
                let declared = Applications.LeNet5()
                use saved = BuiltNetwork.Build declared
                saved.SaveWeights path
                let withFile = declared.WithWeightsFile path
                Expect.equal withFile.WeightsFile (Path.GetFullPath path) "the full path"
                Expect.isNull declared.WeightsFile "the original is unchanged"
                Expect.equal withFile declared "the file is not part of equality (Keras's config has no weights)"
                Expect.equal (withFile.WithName("lenet").WeightsFile) withFile.WeightsFile "renaming keeps the file"
                use loaded = BuiltNetwork.Build withFile
                Expect.isTrue (weightsEqual saved loaded) "built with the file's weights"
                let x = G.Input(declared.InputShapes.[0])
                use outer = BuiltNetwork.Build(Model(x, withFile.Call x))
                Expect.isTrue (weightsEqual saved (outer.[declared.Name] :?> BuiltNetwork)) "a nested declaration loads its file too"
                throwsWith<ArgumentException> [ "existing weights file"; "no-such.safetensors" ] (fun () ->
                    declared.WithWeightsFile "no-such.safetensors" |> ignore)
                Expect.isNull ((withFile.WithWeightsFile null).WeightsFile) "null goes back to initializers"
            finally
                File.Delete path
        }

        test "Compile attaches its configuration to the network: the latest one is what Fit and Evaluate use" {
            torchReady 33
            use net = BuiltNetwork.Build(Sequential(Input(4), Dense(2, activation = "softmax")))
            throwsWith<InvalidOperationException> [ "You must call Compile()"; "sequential" ] (fun () -> net.GetCompiled() |> ignore)
            let first = net.Compile(SGD(), SparseCategoricalCrossentropy())
            Expect.isTrue (obj.ReferenceEquals(net.GetCompiled(), first)) "the first"
            let second = net.Compile(Adam(), SparseCategoricalCrossentropy())
            Expect.isTrue (obj.ReferenceEquals(net.GetCompiled(), second)) "the latest replaces it"
        }
    ]
