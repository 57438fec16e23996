/// One layer-law harness, as Keras's `run_layer_test` (keras/src/testing/test_case.py): every concrete layer record goes
/// through the same laws — config round trip, shapes with unknown (None) dimensions, the built module's forward shape at
/// several sizes from one build, weight names/shapes/counts, a training step that changes trainable weights only, and seeded
/// initialisation landing in Keras's layout. The catalogue gives each layer type a generator of valid cases; a layer type
/// without an entry fails the catalogue test, so a new layer must be added here.
module Functional.Tests.LayerLaws

open System
open System.Reflection
open System.Text.Json.Nodes
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

type private G = Functional.Models.Graph

/// One case of a layer law: a layer, its known per-sample input shapes, and the per-sample axes that may be unknown
/// (None). A free axis is varied in every input at once (merge inputs keep agreeing); weights never depend on it.
type LawCase =
    { Layer: Layer
      Inputs: Shape list
      Free: int list }
    override c.ToString() =
        sprintf "%O on %s, free axes %A" c.Layer (c.Inputs |> List.map (fun s -> s.ToSampleString()) |> String.concat " + ") c.Free

/// The inputs with every free axis unknown.
let noneInputs (c: LawCase) =
    c.Inputs |> List.map (fun s -> c.Free |> List.fold (fun (s: Shape) a -> s.With(a, Nullable())) s)

/// The inputs with free axis j grown by offset·(j + 1): several concrete sizes per unknown dimension, each axis its own.
let grown (c: LawCase) (offset: int) =
    c.Inputs
    |> List.map (fun s -> c.Free |> List.indexed |> List.fold (fun (s: Shape) (j, a) -> s.With(a, Nullable(s.Known a + offset * (j + 1)))) s)

let private outputOf (layer: Layer) (inputs: Shape list) = layer.ComputeOutputShape(ResizeArray inputs)
let private specsOf (layer: Layer) (inputs: Shape list) = layer.Parameters(ResizeArray inputs) |> List.ofSeq

/// Whether a case is one the layer accepts, with a non-empty output: shrinking only steps to such cases.
let private accepts (c: LawCase) =
    try
        let out = outputOf c.Layer c.Inputs
        specsOf c.Layer c.Inputs |> ignore
        out.ToKnownArray() |> Array.forall (fun d -> d > 0)
    with _ -> false

/// Shrinks a case by making free axes smaller (in every input at once) while the layer still accepts it.
let shrinkCase (c: LawCase) =
    seq {
        for a in c.Free do
            if c.Inputs |> List.forall (fun s -> s.Known a > 1) then
                for step in [ 4; 1 ] do
                    if c.Inputs |> List.forall (fun s -> s.Known a > step) then
                        let smaller = { c with Inputs = c.Inputs |> List.map (fun s -> s.With(a, Nullable(s.Known a - step))) }
                        if accepts smaller then yield smaller
    }

// ---------------------------------------------------------------------------------------------------------------------
// Record copies made as `with` makes them (F# cannot use `with` on C# records).

let private cloneOf (layer: Layer) = layer.GetType().GetMethod("<Clone>$").Invoke(layer, [||]) :?> Layer

let private withProperty (name: string) (value: obj) (layer: Layer) =
    let copy = cloneOf layer
    typeof<Layer>.GetProperty(name).SetValue(copy, value)
    copy

/// A frozen copy (Keras's `layer.trainable = False`).
let frozen (layer: Layer) = withProperty "Trainable" (box false) layer

/// A copy named `name`, so its weights can be found in a model.
let named (name: string) (layer: Layer) = withProperty "Name" (box name) layer

/// A copy with every initializer replaced by GlorotUniform with its own seed (3, 4, …), through the init setters — the
/// initializers of wrapped layers too (Bidirectional's layer, RNN's cell, StackedRNNCells' cells), so no weight keeps an
/// unseeded draw.
let withSeededGlorot (layer: Layer) =
    let mutable seed = 3
    let rec seeded (layer: Layer) =
        let copy = cloneOf layer
        for p in layer.GetType().GetProperties(BindingFlags.Public ||| BindingFlags.Instance) do
            if p.CanWrite then
                if typeof<Initializer>.IsAssignableFrom p.PropertyType then
                    p.SetValue(copy, GlorotUniform(seed = seed))
                    seed <- seed + 1
                elif typeof<Layer>.IsAssignableFrom p.PropertyType then
                    match p.GetValue copy with
                    | :? Layer as inner -> p.SetValue(copy, seeded inner)
                    | _ -> ()
                elif p.PropertyType.IsArray && typeof<Layer>.IsAssignableFrom(p.PropertyType.GetElementType()) then
                    let items = p.GetValue copy :?> Array
                    let mapped = Array.CreateInstance(p.PropertyType.GetElementType(), items.Length)
                    for i in 0 .. items.Length - 1 do mapped.SetValue(seeded (items.GetValue i :?> Layer), i)
                    p.SetValue(copy, mapped)
        copy
    seeded layer

// ---------------------------------------------------------------------------------------------------------------------
// The laws. Each is a labelled sub-property, so a failure names the law and FsCheck shows the shrunk case.

let private law name (holds: bool) = Prop.label name (Prop.ofTestable holds)
let private allOf (props: Property list) = match props with [] -> Prop.ofTestable true | p :: ps -> List.fold (.&.) p ps

/// A model applying the layer to `inputs`: `Model(inputs, layer(inputs))`.
let private modelOf (layer: Layer) (inputs: Shape list) =
    let xs = inputs |> List.map (fun s -> G.Input(s))
    let y = if xs.Length = 1 then layer.Call(xs.Head) else layer.Call(Array.ofList xs)
    Model(xs, [ y ])

/// Law 1: the config written as JSON text reads back as the same record, and a model holding it round-trips.
let configLaws (c: LawCase) =
    let text = (LayerConfig.Serialize c.Layer).ToJsonString()
    let back = LayerConfig.Deserialize(JsonNode.Parse text)
    let model =
        match c.Layer with
        | :? Input as input -> let x = G.TensorOf input in Model(x, Flatten().Call(x))
        | layer -> modelOf layer (noneInputs c)
    let modelBack = ModelConfig.FromJson(model.ToJson())
    allOf [ law (sprintf "config round trip: LayerConfig JSON reads back equal (%s)" text) (back = c.Layer)
            law "config round trip: the record read back writes the same JSON text" ((LayerConfig.Serialize back).ToJsonString() = text)
            law "config round trip: a model holding the layer reads back equal through ModelConfig" (modelBack = (model :> IModel)) ]

/// Law 2 (pure half): the output inferred with the free axes None agrees with the known outputs at several sizes —
/// known where they all agree on a value it states, None wherever they differ — and the weights do not depend on them.
let shapeLaws (c: LawCase) =
    let inferred = outputOf c.Layer (noneInputs c)
    let knowns = [ 0; 1; 2 ] |> List.map (fun o -> outputOf c.Layer (grown c o))
    let agrees (i: int) =
        match inferred.[i] |> Option.ofNullable with
        | Some v -> knowns |> List.forall (fun k -> k.Known i = v)
        | None -> true
    let unknownWhereVarying (i: int) =
        let values = knowns |> List.map (fun k -> k.Known i) |> List.distinct
        values.Length = 1 || not inferred.[i].HasValue
    let specs = specsOf c.Layer c.Inputs |> List.map (fun p -> p.Name, p.Shape)
    allOf [ law "shapes: the None output has the rank of the known outputs" (knowns |> List.forall (fun k -> k.Rank = inferred.Rank))
            law (sprintf "shapes: a known dimension of the None output %s equals the known outputs' %A" (inferred.ToSampleString()) (knowns |> List.map (fun k -> k.ToSampleString())))
                (inferred.Rank = knowns.Head.Rank && List.forall agrees [ 0 .. inferred.Rank - 1 ])
            law "shapes: a dimension that changes with the input size is None in the None output"
                (inferred.Rank = knowns.Head.Rank && List.forall unknownWhereVarying [ 0 .. inferred.Rank - 1 ])
            law "weights: Parameters with the free axes None are the same weights"
                ((specsOf c.Layer (noneInputs c) |> List.map (fun p -> p.Name, p.Shape)) = specs)
            law "weights: a frozen copy counts the same weights and none trainable"
                (c.Inputs.Length > 1 || (frozen c.Layer).TrainableParameterCount(c.Inputs.Head) = 0L
                                        && (frozen c.Layer).ParameterCount(c.Inputs.Head) = c.Layer.ParameterCount(c.Inputs.Head)) ]

let private randn (s: Shape) (batch: int64) = torch.randn(s.WithBatch batch)

/// An input for the layer: indices in [0, input_dim) for an Embedding (as floats, which it truncates as Keras casts them),
/// standard normal values otherwise.
let private sampleInput (layer: Layer) (s: Shape) (batch: int64) =
    match layer with
    | :? Embedding as e -> torch.randint(int64 e.InputDim, s.WithBatch batch).to_type(torch.ScalarType.Float32)
    | _ -> randn s batch

/// A weight's name within its layer: the model's name less the layer's (`subject/kernel` → `kernel`; a wrapper's inner
/// layers keep theirs, `bidirectional/forward_lstm/kernel` → `forward_lstm/kernel`, and so do MultiHeadAttention's
/// projections, `query/kernel`).
let private shortName (w: WeightBinding) = match w.Name.IndexOf '/' with -1 -> w.Name | i -> w.Name.Substring(i + 1)

/// Names of weights that Keras itself updates in a training call without a gradient: BatchNormalization's moving
/// statistics (and renorm's), which the forward pass in training mode moves towards the batch statistics.
let private updatedByTrainingCall (layer: Layer) (name: string) =
    layer :? BatchNormalization && (name.StartsWith "moving_" || name.StartsWith "renorm_")

/// Law 2 (built half), law 3 and law 5 on ONE build of the layer over the None shapes, its initializers seeded.
let builtLaws (c: LawCase) =
    let layer = withSeededGlorot c.Layer
    let model = modelOf layer (noneInputs c)
    use built = BuiltNetwork.Build model
    use scope = torch.NewDisposeScope()
    let forwardShapes =
        [ for o in [ 0; 1; 3 ] ->
            let inputs = grown c o
            let expected = (outputOf layer inputs).WithBatch 2L
            let got =
                try Ok (built.Forward(inputs |> List.map (fun s -> sampleInput layer s 2L) |> Array.ofList).[0].shape)
                with e -> Error e.Message
            law (sprintf "forward: one build over %s, run at %s, gives the inferred shape %A (got %A)"
                    (noneInputs c |> List.map (fun s -> s.ToSampleString()) |> String.concat " + ")
                    (inputs |> List.map (fun s -> s.ToSampleString()) |> String.concat " + ") expected got)
                (got = Ok expected) ]
    let specs = specsOf layer c.Inputs
    let weights = built.Weights |> List.ofSeq
    let views = weights |> List.map (fun w -> w.KerasView())
    let bound = List.zip (weights |> List.map shortName) (views |> List.map (fun v -> v.shape |> Array.map int))
    let declared = specs |> List.map (fun p -> p.Name, p.Shape.ToKnownArray())
    let numel (w: WeightBinding) = w.Parameter.numel()
    let total = weights |> List.sumBy numel
    let trainable = weights |> List.filter (fun w -> w.Trainable) |> List.sumBy numel
    let counts =
        if c.Inputs.Length = 1 then
            [ law (sprintf "weights: %d built scalars = ParameterCount %d" total (layer.ParameterCount c.Inputs.Head)) (total = layer.ParameterCount c.Inputs.Head)
              law (sprintf "weights: %d trainable built scalars = TrainableParameterCount %d" trainable (layer.TrainableParameterCount c.Inputs.Head))
                  (trainable = layer.TrainableParameterCount c.Inputs.Head) ]
        else [ law "weights: built scalars = declared scalars" (total = (specs |> List.sumBy (fun p -> p.Size))) ]
    let flags =
        law "weights: each built weight is trainable exactly when declared trainable"
            (List.length weights = List.length specs
             && List.forall2 (fun (w: WeightBinding) (p: ParameterSpec) -> w.Trainable = p.Trainable) weights specs)
    let seeded =
        [ if List.length weights = List.length specs then
            for (w, v), p in List.zip (List.zip weights views) specs do
                let shape = List.ofArray (p.Shape.ToKnownArray())
                // Skipped: a draw that is not reproducible (an unseeded initializer the record does not expose, as LoRA's
                // A), and renorm's standard deviations, which Keras starts at the square root of a moving-variance draw.
                let deterministic = InitializerTests.sample p.Initializer shape = InitializerTests.sample p.Initializer shape
                if deterministic && not ((shortName w).EndsWith "stddev") then
                    yield law (sprintf "seeded init: %s read in Keras's layout %A equals %O sampled at that shape" w.Name shape p.Initializer)
                              (InitializerTests.floats v = InitializerTests.sample p.Initializer shape) ]
    let frozenBuilt =
        use f = BuiltNetwork.Build(modelOf (frozen c.Layer) c.Inputs)
        law "weights: a frozen copy builds no trainable weight" (f.Weights |> Seq.forall (fun w -> not w.Trainable) && Seq.isEmpty f.TrainableParameters)
    allOf (forwardShapes
           @ [ law (sprintf "weights: built names and Keras shapes %A = Parameters %A, in order" bound declared) (bound = declared) ]
           @ counts @ [ flags; frozenBuilt ] @ seeded)

/// Law 4: one SGD step of Input → layer → (Flatten) → Dense(1) under MSE changes every trainable weight of the layer that
/// receives a gradient and no non-trainable one (BatchNormalization's moving statistics excepted: Keras updates them in
/// a training call).
let trainingLaws (c: LawCase) =
    let subject = named "subject" c.Layer
    let xs = c.Inputs |> List.map (fun s -> G.Input(s))
    let y = if xs.Length = 1 then subject.Call(xs.Head) else subject.Call(Array.ofList xs)
    let flat = if subject.ComputeOutputShape(ResizeArray c.Inputs).Rank > 1 then Flatten().Call(y) else y
    let model = Model(xs, [ Dense(1).Call(flat) ])
    use built = BuiltNetwork.Build model
    use scope = torch.NewDisposeScope()
    let mine = built.Weights |> Seq.filter (fun w -> w.Name.StartsWith "subject/") |> List.ofSeq
    let before = mine |> List.map (fun w -> w.Parameter.detach().clone())
    use optimizer = torch.optim.SGD(built.TrainableParameters, 0.1)
    optimizer.zero_grad()
    let inputs = c.Inputs |> List.map (fun s -> sampleInput c.Layer s 4L) |> Array.ofList
    let prediction = built.Forward(inputs, ForwardContext(true)).[0]
    let target = torch.randn(4L, 1L)
    (prediction - target).square().mean().backward()
    // A weight "receives a gradient" when the step moves some element by more than float32 rounding would hide (a
    // LayerNormalization over one feature has x − mean ≈ 1e-8, so gamma's gradient is round-off, not a signal).
    let gradients =
        mine |> List.map (fun w ->
            let g = w.Parameter.grad
            not (isNull g) && (g.abs() * 0.1 - (w.Parameter.detach().abs() + 1.0) * 1e-5).max().item<float32>() > 0.0f)
    optimizer.step() |> ignore
    [ for (w, b), hasGradient in List.zip (List.zip mine before) gradients do
        let changed = not (w.Parameter.detach().eq(b).all().item<bool>())
        if w.Trainable && hasGradient then
            yield law (sprintf "training step: trainable %s received a gradient and changed" w.Name) changed
        elif not w.Trainable && not (updatedByTrainingCall c.Layer (shortName w)) then
            yield law (sprintf "training step: non-trainable %s is unchanged" w.Name) (not changed) ]
    |> fun laws ->
        let anyTrainable = mine |> List.exists (fun w -> w.Trainable)
        law "training step: some trainable weight of the layer receives a gradient" (not anyTrainable || List.exists id gradients) :: laws
    |> allOf

/// Where laws over masks (Keras's `supports_masking`/`compute_mask`: a mask in, the layer's mask out) and dtype policies
/// (a layer built under each policy computes in its compute dtype and keeps variables in the variable dtype) join the
/// harness: each is a labelled law over a case, run with the built laws. None are registered yet; that work adds them.
let extensionLaws : (string * (LawCase -> Property)) list =
    [ // Masks: the built layer's compute_mask agrees with the record's supports_masking — a (batch, steps) mask given to a
      // single-input layer comes out unchanged when the layer supports masking and is dropped when it does not (Masking,
      // which makes its own, and GlobalAveragePooling1D, which consumes it, are covered by tests/MaskTests.fs).
      "masks: a supporting layer passes the input's mask on, any other drops it", (fun c ->
          // Embedding makes its own mask from the indices and recurrent layers consume theirs (tests/RecurrentTests.fs).
          if c.Inputs.Length <> 1 || c.Layer :? Masking || c.Layer :? GlobalAveragePooling1D || c.Layer :? Embedding
             || c.Layer :? RecurrentLayer || c.Layer :? Bidirectional || c.Layer :? RNN || c.Inputs.Head.Rank < 1 then law "masks: not applicable" true
          else
              use built = BuiltNetwork.Build(modelOf c.Layer c.Inputs)
              use scope = torch.NewDisposeScope()
              let layer = built.BuiltLayers |> Seq.find (fun l -> not (l.Layer :? Input))
              let x = sampleInput c.Layer c.Inputs.Head 2L
              let mask = torch.ones([| 2L; int64 (c.Inputs.Head.Known 0) |], dtype = torch.ScalarType.Bool)
              let out = layer.ComputeMask([| x |], [| mask |])
              let expected = if c.Layer.SupportsMasking then "the same mask" else "no mask"
              law (sprintf "masks: SupportsMasking = %b, so %s" c.Layer.SupportsMasking expected)
                  (if c.Layer.SupportsMasking then obj.ReferenceEquals(out, mask) else isNull out))
      // Dtype policies: built under float64 the layer keeps float64 weights and computes in float64; under mixed_bfloat16
      // its weights stay float32 and its output is bfloat16 (weights that declare their own dtype, a counter, excepted).
      "dtype policies: variables in the variable dtype, output in the compute dtype", (fun c ->
          let check (policy: DTypePolicy) (variable: torch.ScalarType) (compute: torch.ScalarType) =
              let layer = withProperty "Dtype" (box policy) c.Layer
              use built = BuiltNetwork.Build(modelOf layer c.Inputs)
              use scope = torch.NewDisposeScope()
              let y = built.Forward(c.Inputs |> List.map (fun s -> sampleInput c.Layer s 2L) |> Array.ofList).[0]
              let floating = built.Weights |> Seq.filter (fun w -> w.Parameter.is_floating_point()) |> List.ofSeq
              law (sprintf "dtype %s: weights %A are %A, output %A is %A" policy.Name (floating |> List.map (fun w -> w.Parameter.dtype)) variable y.dtype compute)
                  (floating |> List.forall (fun w -> w.Parameter.dtype = variable) && y.dtype = compute)
          check DTypePolicy.Float64 torch.ScalarType.Float64 torch.ScalarType.Float64
          .&. check DTypePolicy.MixedBFloat16 torch.ScalarType.Float32 torch.ScalarType.BFloat16) ]

// ---------------------------------------------------------------------------------------------------------------------
// The catalogue: a generator of valid cases for every concrete layer record type.

let private sizes n lo hi = Gen.listOfLength n (Gen.choose (lo, hi))
let private bools = Gen.elements [ true; false ]

/// A spatial per-sample shape of `rank` spatial axes and `c` channels; its free axes are the spatial ones.
let private spatial (channelsLast: bool) (dims: int list) (c: int) =
    let rank = dims.Length
    if channelsLast then Shape(Array.ofList (dims @ [ c ])), [ 0 .. rank - 1 ]
    else Shape(Array.ofList (c :: dims)), [ 1 .. rank ]

let private caseOf layer (shape, free) = { Layer = layer; Inputs = [ shape ]; Free = free }
let private format cl = if cl then DataFormat.ChannelsLast else DataFormat.ChannelsFirst
let private padding same = if same then Padding.Same else Padding.Valid

/// Window layers of a rank: kernel 1–3, strides 1–2, valid/same, both data formats, sizes at least the (dilated) kernel.
let private windowedWith (dilates: bool) rank (make: int -> int -> int -> Padding -> DataFormat -> Layer) =
    gen {
        let! k = Gen.choose (1, 3)
        let! s = Gen.choose (1, 2)
        // Keras refuses strides > 1 together with a dilation rate > 1.
        let! d = if dilates && s = 1 then Gen.choose (1, 2) else Gen.constant 1
        let! same = bools
        let! cl = bools
        let! c = Gen.choose (1, 3)
        let span = (k - 1) * d + 1
        let! dims = sizes rank span (span + 4)
        return caseOf (make k s d (padding same) (format cl)) (spatial cl dims c)
    }

/// Convolutions: dilation rates 1–2 as well.
let private convolutions rank make = windowedWith true rank make
/// Pooling: no dilation.
let private windowed rank (make: int -> int -> Padding -> DataFormat -> Layer) = windowedWith false rank (fun k s _ p f -> make k s p f)

/// Layers over a spatial input that take no window: cropping, padding, upsampling, global pooling.
let private spatialOnly rank (make: int -> DataFormat -> Layer) =
    gen {
        let! a = Gen.choose (0, 2)
        let! cl = bools
        let! c = Gen.choose (1, 3)
        let! dims = sizes rank (2 * a + 1) (2 * a + 5)
        return caseOf (make a (format cl)) (spatial cl dims c)
    }

/// Shape-preserving layers on a rank 1–3 input: every axis but the last is free (the last often carries weights).
let private elementwise (make: Gen<Layer>) =
    gen {
        let! layer = make
        let! rank = Gen.choose (1, 3)
        let! dims = sizes rank 1 5
        return { Layer = layer; Inputs = [ Shape(Array.ofList dims) ]; Free = [ 0 .. rank - 2 ] }
    }

/// Merge layers: `n` inputs of one shape (rank 1–3), all axes free.
let private merging (n: Gen<int>) (layer: Layer) =
    gen {
        let! count = n
        let! rank = Gen.choose (1, 3)
        let! dims = sizes rank 1 4
        return { Layer = layer; Inputs = List.replicate count (Shape(Array.ofList dims)); Free = [ 0 .. rank - 1 ] }
    }

let private entry<'T when 'T :> Layer> (cases: Gen<LawCase>) = typeof<'T>, cases

/// Recurrent layers on (timesteps, features): 1–3 units, the sequence or the last output, either direction; the
/// timesteps are free, and some cases unroll over known timesteps instead.
let private recurrent (make: int -> bool -> bool -> RecurrentLayer) =
    gen {
        let! units = Gen.choose (1, 3)
        let! sequences = bools
        let! backwards = bools
        let! unroll = Gen.elements [ false; false; true ]
        let! steps = Gen.choose (1, 4)
        let! features = Gen.choose (1, 3)
        let layer = make units sequences backwards
        let layer =
            if unroll then
                let copy = cloneOf layer
                copy.GetType().GetProperty("Unroll").SetValue(copy, true)
                copy
            else layer :> Layer
        return { Layer = layer; Inputs = [ Shape(steps, features) ]; Free = (if unroll then [] else [ 0 ]) }
    }

/// Every concrete layer record type of src/Functional and a generator of valid cases for it.
let catalogue : (Type * Gen<LawCase>) list =
    [ entry<Dense> (gen {
          let! units = Gen.choose (1, 4)
          let! useBias = bools
          let! lora = Gen.elements [ None; Some 1; Some 2 ]
          let! rank = Gen.choose (1, 3)
          let! dims = sizes rank 1 4
          let layer =
              match lora with
              | Some r -> Dense(units, activation = "tanh", useBias = useBias, loraRank = r)
              | None -> Dense(units, activation = "tanh", useBias = useBias)
          return { Layer = layer; Inputs = [ Shape(Array.ofList dims) ]; Free = [ 0 .. rank - 2 ] } })
      entry<Activation> (elementwise (Gen.elements [ "relu"; "tanh"; "softmax"; "gelu" ] |> Gen.map (fun a -> Activation(a) :> Layer)))
      entry<Dropout> (elementwise (Gen.elements [ 0.0; 0.25; 0.5 ] |> Gen.map (fun r -> Dropout(r, seed = 7) :> Layer)))
      entry<Flatten> (gen {
          let! rank = Gen.choose (1, 4)
          let! dims = sizes rank 1 4
          let! free = Gen.subListOf [ 0 .. rank - 1 ]
          return { Layer = Flatten(); Inputs = [ Shape(Array.ofList dims) ]; Free = List.ofSeq free } })
      entry<Input> (gen {
          let! dims = sizes 3 1 6
          return { Layer = Input(Shape(Array.ofList dims)); Inputs = [ Shape(Array.ofList dims) ]; Free = [] } })
      entry<ActivityRegularization> (elementwise (Gen.elements [ 0.0; 0.01 ] |> Gen.map (fun l -> ActivityRegularization(l, 0.02) :> Layer)))
      entry<Masking> (elementwise (Gen.elements [ 0.0; 1.5 ] |> Gen.map (fun v -> Masking(v) :> Layer)))
      entry<Permute> (gen {
          let! rank = Gen.choose (2, 3)
          let! order = Gen.shuffle [| 1 .. rank |]
          let! dims = sizes rank 1 4
          let! free = Gen.subListOf [ 0 .. rank - 1 ]
          return { Layer = Permute(IntTuple(order)); Inputs = [ Shape(Array.ofList dims) ]; Free = List.ofSeq free } })
      entry<RepeatVector> (gen {
          let! n = Gen.choose (1, 4)
          let! d = Gen.choose (1, 5)
          return { Layer = RepeatVector(n); Inputs = [ Shape(d) ]; Free = [ 0 ] } })
      entry<Reshape> (gen {
          let! a = Gen.choose (1, 4)
          let! b = Gen.choose (1, 4)
          let! l = Gen.choose (1, 4)
          let! inferred = bools
          // (l, a·b) → (−1, a, b): the free length stays free; or a fixed target of the same size.
          return
              if inferred then { Layer = Reshape(IntTuple(-1, a, b)); Inputs = [ Shape(l, a * b) ]; Free = [ 0 ] }
              else { Layer = Reshape(IntTuple(a * b, l)); Inputs = [ Shape(l, a, b) ]; Free = [] } })
      entry<CustomScaleLayer> (gen {
          let! scale = Gen.elements [ 0.17; 1.0 ]
          let! dims = sizes 3 1 4
          return { Layer = CustomScaleLayer(scale); Inputs = List.replicate 2 (Shape(Array.ofList dims)); Free = [ 0; 1 ] } })
      entry<ReLU> (elementwise (gen {
          let! maxValue = Gen.elements [ None; Some 6.0 ]
          let! slope = Gen.elements [ 0.0; 0.1 ]
          return (match maxValue with Some m -> ReLU(m, negativeSlope = slope) | None -> ReLU(negativeSlope = slope)) :> Layer }))
      entry<LeakyReLU> (elementwise (Gen.elements [ 0.3; 0.01 ] |> Gen.map (fun s -> LeakyReLU(s) :> Layer)))
      entry<ELU> (elementwise (Gen.elements [ 1.0; 0.5 ] |> Gen.map (fun a -> ELU(a) :> Layer)))
      entry<ThresholdedReLU> (elementwise (Gen.elements [ 1.0; 0.2 ] |> Gen.map (fun t -> ThresholdedReLU(t) :> Layer)))
      entry<Softmax> (elementwise (Gen.constant (Softmax() :> Layer)))
      entry<PReLU> (gen {
          let! shared = bools
          let! dims = sizes 2 1 4
          // Keras's alpha has the input's shape with shared axes 1: a shared axis may be unknown, the others not.
          return
              if shared then { Layer = PReLU(alphaInitializer = RandomUniform(-0.5, 0.5), sharedAxes = IntTuple(1)); Inputs = [ Shape(Array.ofList dims) ]; Free = [ 0 ] }
              else { Layer = PReLU(alphaInitializer = RandomUniform(-0.5, 0.5)); Inputs = [ Shape(Array.ofList dims) ]; Free = [] } })
      entry<Conv1D> (convolutions 1 (fun k s d p f -> Conv1D(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<Conv2D> (Gen.oneof [
          convolutions 2 (fun k s d p f -> Conv2D(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f))
          gen { // grouped: 2·g channels in, 2·g filters out, g groups
              let! g = Gen.choose (2, 3)
              let! cl = bools
              let! dims = sizes 2 2 6
              return caseOf (Conv2D(2 * g, IntTuple(2), groups = g, dataFormat = format cl)) (spatial cl dims (2 * g)) } ])
      entry<Conv3D> (convolutions 3 (fun k s d p f -> Conv3D(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<Conv1DTranspose> (convolutions 1 (fun k s d p f -> Conv1DTranspose(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<Conv2DTranspose> (convolutions 2 (fun k s d p f -> Conv2DTranspose(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<Conv3DTranspose> (convolutions 3 (fun k s d p f -> Conv3DTranspose(2, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<DepthwiseConv1D> (convolutions 1 (fun k s d p f -> DepthwiseConv1D(IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, depthMultiplier = 2, dataFormat = f)))
      entry<DepthwiseConv2D> (convolutions 2 (fun k s d p f -> DepthwiseConv2D(IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, depthMultiplier = 2, dataFormat = f)))
      entry<SeparableConv1D> (convolutions 1 (fun k s d p f -> SeparableConv1D(3, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f, depthMultiplier = 2)))
      entry<SeparableConv2D> (convolutions 2 (fun k s d p f -> SeparableConv2D(3, IntTuple(k), strides = IntTuple(s), dilationRate = IntTuple(d), padding = p, dataFormat = f)))
      entry<MaxPooling1D> (windowed 1 (fun k s p f -> MaxPooling1D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<MaxPooling2D> (windowed 2 (fun k s p f -> MaxPooling2D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<MaxPooling3D> (windowed 3 (fun k s p f -> MaxPooling3D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<AveragePooling1D> (windowed 1 (fun k s p f -> AveragePooling1D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<AveragePooling2D> (windowed 2 (fun k s p f -> AveragePooling2D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<AveragePooling3D> (windowed 3 (fun k s p f -> AveragePooling3D(IntTuple(k), strides = IntTuple(s), padding = p, dataFormat = f)))
      entry<GlobalMaxPooling1D> (spatialOnly 1 (fun a f -> GlobalMaxPooling1D(f, keepdims = (a = 1))))
      entry<GlobalMaxPooling2D> (spatialOnly 2 (fun a f -> GlobalMaxPooling2D(f, keepdims = (a = 1))))
      entry<GlobalMaxPooling3D> (spatialOnly 3 (fun a f -> GlobalMaxPooling3D(f, keepdims = (a = 1))))
      entry<GlobalAveragePooling1D> (spatialOnly 1 (fun a f -> GlobalAveragePooling1D(f, keepdims = (a = 1))))
      entry<GlobalAveragePooling2D> (spatialOnly 2 (fun a f -> GlobalAveragePooling2D(f, keepdims = (a = 1))))
      entry<GlobalAveragePooling3D> (spatialOnly 3 (fun a f -> GlobalAveragePooling3D(f, keepdims = (a = 1))))
      entry<Cropping1D> (gen {
          let! a = Gen.choose (0, 2)
          let! length = Gen.choose (2 * a + 1, 2 * a + 5)
          return { Layer = Cropping1D(IntTuple(a, a / 2)); Inputs = [ Shape(length, 2) ]; Free = [ 0 ] } })
      entry<Cropping2D> (spatialOnly 2 (fun a f -> Cropping2D(SidePairs.FromPairs(struct (a, a / 2), struct (a / 2, a)), f)))
      entry<Cropping3D> (spatialOnly 3 (fun a f -> Cropping3D(SidePairs(a), f)))
      entry<ZeroPadding1D> (spatialOnly 1 (fun a f -> ZeroPadding1D(IntTuple(a, 1), f)))
      entry<ZeroPadding2D> (spatialOnly 2 (fun a f -> ZeroPadding2D(SidePairs.FromPairs(struct (a, 1), struct (0, a)), f)))
      entry<ZeroPadding3D> (spatialOnly 3 (fun a f -> ZeroPadding3D(SidePairs(a), f)))
      entry<UpSampling1D> (gen {
          let! size = Gen.choose (1, 3)
          let! length = Gen.choose (1, 5)
          return { Layer = UpSampling1D(size); Inputs = [ Shape(length, 2) ]; Free = [ 0 ] } })
      entry<UpSampling2D> (spatialOnly 2 (fun a f -> UpSampling2D(IntTuple(a + 1, 2), f, (if a = 2 then "bilinear" else "nearest"))))
      entry<UpSampling3D> (spatialOnly 3 (fun a f -> UpSampling3D(IntTuple(a + 1), f)))
      entry<Add> (merging (Gen.choose (2, 3)) (Add()))
      entry<Subtract> (merging (Gen.constant 2) (Subtract()))
      entry<Multiply> (merging (Gen.choose (2, 3)) (Multiply()))
      entry<Average> (merging (Gen.choose (2, 3)) (Average()))
      entry<Maximum> (merging (Gen.choose (2, 3)) (Maximum()))
      entry<Minimum> (merging (Gen.choose (2, 3)) (Minimum()))
      entry<Concatenate> (gen {
          let! rank = Gen.choose (1, 3)
          let! axis = Gen.choose (0, rank - 1)
          let! dims = sizes rank 1 4
          let! other = Gen.choose (1, 4)
          let second = Shape(Array.ofList dims).With(axis, Nullable other)
          // Keras's `axis` counts the batch; every axis may be unknown, the concatenated one included.
          return { Layer = Concatenate(axis + 1); Inputs = [ Shape(Array.ofList dims); second ]; Free = [ 0 .. rank - 1 ] } })
      entry<Dot> (gen {
          let! l = Gen.choose (1, 4)
          let! a = Gen.choose (1, 4)
          let! b = Gen.choose (1, 4)
          let! overLength = bools
          let! normalize = bools
          // (l, a)·(l, a) over the features gives (l, l); (l, a)·(l, b) over the free length gives (a, b).
          return
              if overLength then { Layer = Dot(IntTuple(1), normalize); Inputs = [ Shape(l, a); Shape(l, b) ]; Free = [ 0 ] }
              else { Layer = Dot(IntTuple(2), normalize); Inputs = [ Shape(l, a); Shape(l, a) ]; Free = [ 0 ] } })
      entry<BatchNormalization> (gen {
          let! cl = bools
          let! renorm = bools
          let! center = bools
          let! dims = sizes 2 1 4
          let! c = Gen.choose (1, 3)
          let layer = BatchNormalization(axis = (if cl then -1 else 1), center = center, renorm = renorm)
          return caseOf layer (spatial cl dims c) })
      entry<LayerNormalization> (elementwise (gen {
          let! center = bools
          let! rms = bools
          return LayerNormalization(center = center, rmsScaling = rms) :> Layer })
          // Over one feature x − mean is 0: the output is beta alone and gamma can never learn; Keras's tests use more.
          |> Gen.map (fun c -> let s = c.Inputs.Head in { c with Inputs = [ s.With(s.Rank - 1, Nullable(max 2 (s.Known(s.Rank - 1)))) ] }))
      entry<EinsumDense> (gen {
          let! units = Gen.choose (1, 3)
          let! width = Gen.choose (1, 4)
          let! steps = Gen.choose (1, 4)
          let! form = Gen.choose (0, 3)
          let! bias = bools
          let none = Nullable<int>()
          return
              match form with
              | 0 -> { Layer = EinsumDense("ab,bc->ac", Shape units, biasAxes = (if bias then "c" else null)); Inputs = [ Shape width ]; Free = [] }
              | 1 -> { Layer = EinsumDense("abc,cd->abd", Shape([| none; Nullable units |]), activation = "relu", biasAxes = (if bias then "d" else null)); Inputs = [ Shape(steps, width) ]; Free = [ 0 ] }
              | 2 -> { Layer = EinsumDense("...x,xy->...y", Shape units, biasAxes = (if bias then "y" else null)); Inputs = [ Shape(steps, width) ]; Free = [ 0 ] }
              | _ -> { Layer = EinsumDense("abc,cde->abde", Shape([| none; Nullable units; Nullable 2 |]), biasAxes = (if bias then "de" else null)); Inputs = [ Shape(steps, width) ]; Free = [ 0 ] } })
      entry<MultiHeadAttention> (gen {
          let! heads = Gen.choose (1, 3)
          let! keyDim = Gen.choose (1, 3)
          let! valueDim = Gen.elements [ None; Some 2 ]
          let! useBias = bools
          let! causal = bools
          let! out = Gen.elements [ None; Some 3 ]
          let! steps = Gen.choose (1, 4)
          let! width = Gen.choose (1, 4)
          let! withKey = bools
          let layer =
              MultiHeadAttention(heads, keyDim, valueDim = Option.toNullable valueDim, useBias = useBias,
                                 outputShape = (match out with Some o -> IntTuple(o) | None -> IntTuple()), UseCausalMask = causal)
          // Query (T, width), value and key (S, width + 1); T and S vary together.
          return { Layer = layer; Inputs = [ Shape(steps, width); Shape(steps, width + 1) ] @ (if withKey then [ Shape(steps, 2) ] else []); Free = [ 0 ] } })
      entry<Attention> (gen {
          let! useScale = bools
          let! mode = Gen.elements [ "dot"; "concat" ]
          let! causal = bools
          // At least two keys: over one, the softmax is 1 whatever the scores, and no weight can learn (Keras's too).
          let! steps = Gen.choose (2, 4)
          let! width = Gen.choose (1, 4)
          let! withKey = bools
          return { Layer = Attention(useScale, mode, UseCausalMask = causal); Inputs = [ Shape(steps, width); Shape(steps, width) ] @ (if withKey then [ Shape(steps, width) ] else []); Free = [ 0 ] } })
      entry<AdditiveAttention> (gen {
          let! useScale = bools
          let! causal = bools
          let! steps = Gen.choose (2, 4)
          let! width = Gen.choose (1, 4)
          return { Layer = AdditiveAttention(useScale, UseCausalMask = causal); Inputs = [ Shape(steps, width); Shape(steps, width) ]; Free = [ 0 ] } })
      entry<SpatialDropout1D> (gen {
          let! rate = Gen.elements [ 0.0; 0.5 ]
          let! steps = Gen.choose (1, 4)
          let! c = Gen.choose (1, 3)
          return { Layer = SpatialDropout1D(rate, seed = 5); Inputs = [ Shape(steps, c) ]; Free = [ 0 ] } })
      entry<SpatialDropout2D> (spatialOnly 2 (fun a f -> SpatialDropout2D(float a / 4.0, f, seed = 5)))
      entry<SpatialDropout3D> (spatialOnly 3 (fun a f -> SpatialDropout3D(float a / 4.0, f, seed = 5)))
      entry<GaussianNoise> (elementwise (Gen.elements [ 0.0; 0.3 ] |> Gen.map (fun s -> GaussianNoise(s, seed = 2) :> Layer)))
      entry<GaussianDropout> (elementwise (Gen.elements [ 0.0; 0.4 ] |> Gen.map (fun r -> GaussianDropout(r, seed = 2) :> Layer)))
      entry<AlphaDropout> (elementwise (Gen.elements [ 0.0; 0.2 ] |> Gen.map (fun r -> AlphaDropout(r, seed = 2) :> Layer)))
      entry<UnitNormalization> (elementwise (Gen.constant (UnitNormalization() :> Layer)))
      entry<GroupNormalization> (gen {
          let! groups = Gen.choose (1, 2)
          let! perGroup = Gen.choose (2, 3)
          let! rank = Gen.choose (1, 3)
          let! dims = sizes (rank - 1) 1 4
          let! center = bools
          let! instance = bools
          // Each group holds at least two channels per sample, so x − mean is not identically 0 and gamma can learn; one
          // group per channel (groups = −1) may hold one value when the free axes shrink to 1, so beta is kept there.
          let layer = GroupNormalization((if instance then -1 else groups), center = (center || instance))
          let channels = if instance then perGroup else groups * perGroup
          return { Layer = layer; Inputs = [ Shape(Array.ofList (dims @ [ channels ])) ]; Free = [ 0 .. rank - 2 ] } })
      entry<Rescaling> (elementwise (Gen.elements [ (1.0 / 255.0, 0.0); (2.0, -1.0) ] |> Gen.map (fun (s, o) -> Rescaling(FloatTuple(s), FloatTuple(o)) :> Layer)))
      entry<Embedding> (gen {
          let! inputDim = Gen.choose (1, 6)
          let! outputDim = Gen.choose (1, 4)
          let! maskZero = bools
          let! lora = Gen.elements [ None; Some 1; Some 2 ]
          let! rank = Gen.choose (0, 2)
          let! dims = sizes rank 1 4
          let layer =
              match lora with
              | Some r -> Embedding(inputDim, outputDim, maskZero = maskZero, loraRank = r)
              | None -> Embedding(inputDim, outputDim, maskZero = maskZero)
          return { Layer = layer; Inputs = [ Shape(Array.ofList dims) ]; Free = [ 0 .. rank - 1 ] } })
      entry<SimpleRNN> (recurrent (fun u rs bw -> SimpleRNN(u, returnSequences = rs, goBackwards = bw)))
      entry<LSTM> (recurrent (fun u rs bw -> LSTM(u, returnSequences = rs, goBackwards = bw)))
      entry<GRU> (Gen.oneof [ recurrent (fun u rs bw -> GRU(u, returnSequences = rs, goBackwards = bw))
                              recurrent (fun u rs bw -> GRU(u, returnSequences = rs, goBackwards = bw, resetAfter = false)) ])
      entry<Bidirectional> (gen {
          let! merge = Gen.elements [ "concat"; "sum"; "mul"; "ave" ]
          let! given = bools
          let! case = Gen.oneof [ recurrent (fun u rs bw -> LSTM(u, returnSequences = rs, goBackwards = bw))
                                  recurrent (fun u rs bw -> GRU(u, returnSequences = rs, goBackwards = bw))
                                  recurrent (fun u rs bw -> SimpleRNN(u, returnSequences = rs, goBackwards = bw)) ]
          let inner = case.Layer :?> RecurrentLayer
          // A given backward layer: Keras requires the opposite go_backwards and the same sequence arguments.
          let backward =
              if not given then null
              else
                  let copy = cloneOf inner :?> RecurrentLayer
                  copy.GetType().GetProperty("GoBackwards").SetValue(copy, not inner.GoBackwards)
                  copy.GetType().GetProperty("Activation").SetValue(copy, ActivationFunction "relu")
                  copy
          return { case with Layer = Bidirectional(inner, merge, backward) } })
      entry<RNN> (gen {
          let! steps = Gen.choose (1, 4)
          let! features = Gen.choose (1, 3)
          let! sequences = bools
          let! backwards = bools
          let cell kind units : RecurrentCell =
              match kind with
              | 0 -> LSTMCell(units)
              | 1 -> GRUCell(units, resetAfter = (units % 2 = 0))
              | _ -> SimpleRNNCell(units)
          let! kinds = Gen.listOfLength 2 (Gen.choose (0, 2))
          let! units = Gen.listOfLength 2 (Gen.choose (1, 3))
          let! stacked = bools
          let c : Layer = if stacked then StackedRNNCells(cell kinds[0] units[0], cell kinds[1] units[1]) else cell kinds[0] units[0]
          return { Layer = RNN(c, returnSequences = sequences, goBackwards = backwards); Inputs = [ Shape(steps, features) ]; Free = [ 0 ] } })
      entry<TimeDistributed> (gen {
          let! steps = Gen.choose (1, 4)
          let! conv = bools
          let! units = Gen.choose (1, 3)
          return
              if conv then { Layer = TimeDistributed(Conv2D(units, 2)); Inputs = [ Shape(steps, 3, 4, 2) ]; Free = [ 0 ] }
              else { Layer = TimeDistributed(Dense(units, activation = "tanh")); Inputs = [ Shape(steps, 3) ]; Free = [ 0 ] } })
      // Text and lookup preprocessing (tests/TextPreprocessingTests.fs): configs carry the vocabulary, shapes are pure.
      entry<TextVectorization> (gen {
          let! mode = Gen.elements [ "int"; "multi_hot"; "count"; "tf_idf" ]
          let! standardize = Gen.elements [ "lower_and_strip_punctuation"; "lower"; "strip_punctuation"; null ]
          let! split = Gen.elements [ "whitespace"; "character"; null ]
          let! ngrams = Gen.elements [ IntTuple(); IntTuple.Integer 2; IntTuple(1, 3) ]
          let! length = Gen.elements [ None; Some 5 ]
          let! adapted = bools
          let! rank = Gen.choose (0, 1)
          let layer =
              TextVectorization(maxTokens = 20, standardize = standardize, split = split, ngrams = ngrams, outputMode = mode,
                                outputSequenceLength = (if mode = "int" then Option.toNullable length else Nullable()))
          let layer = if adapted || mode <> "int" then layer.Adapt [ "The cat sat."; "the dog, the cat"; "a b c d" ] else layer
          return { Layer = layer; Inputs = [ Shape(Array.replicate rank 1) ]; Free = [] } })
      entry<StringLookup> (gen {
          let! mode = Gen.elements [ "int"; "one_hot"; "multi_hot"; "count"; "tf_idf" ]
          let! mask = Gen.elements [ null; "" ]
          let! oov = Gen.choose (0, 2)
          let! width = Gen.choose (1, 4)
          let layer = StringLookup(maskToken = mask, numOovIndices = oov, outputMode = mode).Adapt(ResizeArray [ "a"; "b"; "a"; "c" ])
          return { Layer = layer; Inputs = [ Shape(width) ]; Free = (if mode = "int" || mode = "one_hot" then [ 0 ] else []) } })
      entry<IntegerLookup> (gen {
          let! mode = Gen.elements [ "int"; "one_hot"; "multi_hot"; "count"; "tf_idf" ]
          let! mask = Gen.elements [ Nullable(); Nullable 0L ]
          let! invert = bools
          let! width = Gen.choose (1, 4)
          let layer =
              if invert && mode = "int" then IntegerLookup(vocabulary = [| 7L; 3L |], invert = true, maskToken = mask)
              else IntegerLookup(maskToken = mask, outputMode = mode).Adapt([ 7L; 3L; 7L; 9L ])
          return { Layer = layer; Inputs = [ Shape(width) ]; Free = (if mode = "int" || mode = "one_hot" then [ 0 ] else []) } })
      entry<Normalization> (elementwise (gen {
          let! given = bools
          return (if given then Normalization(mean = FloatTuple(0.5), variance = FloatTuple(2.0)) else Normalization()) :> Layer })) ]

/// Layer types that take only the config and pure shape laws, and why the tensor laws (forward at several sizes, weights,
/// a training step, masks and dtype policies) do not apply.
let hostPreprocessing : (Type * string) list =
    [ typeof<TextVectorization>, "takes strings, which are not tensors: it runs on the host (tests/TextPreprocessingTests.fs builds models from strings)"
      typeof<StringLookup>, "takes strings, which are not tensors: it runs on the host (tests/TextPreprocessingTests.fs)"
      typeof<IntegerLookup>, "a table lookup on the host with no weights and no gradient, whose int64 output keeps its dtype under every policy, as Keras's (its vocabulary dtype); tests/TextPreprocessingTests.fs runs it on tensors" ]

/// Concrete layer record types the laws do not take, and why.
let exempt : (Type * string) list =
    [ yield typeof<Lambda>, "Lambda (Functional.Torch) wraps a .NET delegate: it has no config to round-trip, and its shape laws are the delegate's, not the layer's"
      // Keras's cells compute one step from (inputs, states) inside an RNN; the laws reach them through RNN's entry.
      for cell in [ typeof<SimpleRNNCell>; typeof<LSTMCell>; typeof<GRUCell>; typeof<StackedRNNCells> ] ->
          cell, "a recurrent cell runs one step inside RNN and is never applied to a tensor alone; RNN's entry takes every cell through the laws" ]

/// The concrete layer record types of the core assembly.
let concreteLayerTypes () =
    typeof<Layer>.Assembly.GetTypes()
    |> Array.filter (fun t -> t.IsSubclassOf typeof<Layer> && not t.IsAbstract && t.IsPublic)

/// Law cases for laws that run libtorch: few and small.
let private torchLawConfig = { FsCheckConfig.defaultConfig with maxTest = 8 }
/// The pure laws, wider.
let private pureLawConfig = { FsCheckConfig.defaultConfig with maxTest = 100 }

/// The harness: every law for one layer type, over its catalogue generator, shrinking the free input sizes.
let layerTest (t: Type, cases: Gen<LawCase>) =
    let arb = Arb.fromGenShrink (cases, shrinkCase)
    let appliedToTensors = t <> typeof<Input> && not (hostPreprocessing |> List.exists (fun (h, _) -> h = t))
    testList t.Name [
        yield testPropertyWithConfig pureLawConfig "config round trip" (Prop.forAll arb configLaws)
        if appliedToTensors then
            yield testPropertyWithConfig pureLawConfig "shapes with None dimensions and weights need no free axis" (Prop.forAll arb shapeLaws)
            yield testPropertyWithConfig torchLawConfig "built: forward shape at several sizes from one None build, weights, seeded init in Keras's layout" (Prop.forAll arb (fun c ->
                torchReady 13
                builtLaws c .&. allOf [ for name, l in extensionLaws -> Prop.label name (l c) ]))
            yield testPropertyWithConfig torchLawConfig "a training step changes trainable weights only" (Prop.forAll arb (fun c ->
                torchReady 17
                trainingLaws c))
    ]

[<Tests>]
let tests =
    testSequenced <| testList "Layer laws (run_layer_test)" [
        yield test "every concrete layer record type has a catalogue entry (or a stated exemption)" {
            let listed = catalogue |> List.map fst |> Collections.Generic.HashSet
            let concrete = Array.append (concreteLayerTypes ()) [| typeof<Lambda> |]
            Expect.isGreaterThanOrEqual concrete.Length 60 "found the layer record types by reflection"
            let missing = concrete |> Array.filter (fun t -> not (listed.Contains t) && not (exempt |> List.exists (fun (e, _) -> e = t)))
            Expect.isEmpty (missing |> Array.map (fun t -> t.FullName)) "layer record types without a LayerLaws.catalogue entry: add a generator of valid cases"
            Expect.equal listed.Count catalogue.Length "one entry per type"
        }
        yield! catalogue |> List.map layerTest
    ]
