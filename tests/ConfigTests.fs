/// Model configs as JSON: the round-trip law over every layer record (found by reflection, so layers added later are
/// covered), every initializer, regularizer and constraint, and generated graphs; Keras-written documents load; bad
/// documents fail with the JSON path of the problem.
module Functional.Tests.ConfigTests

open System
open System.Reflection
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open FsCheck
open FsCheck.FSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Torch.Layers
open Functional.Models
open Functional.Tests.Support

type G = Functional.Models.Graph

// ---- Generic instances: every public record built through its Keras constructor from candidate argument values ----

let private under (t: Type) = Option.ofObj (Nullable.GetUnderlyingType t) |> Option.defaultValue t

let private initializers: obj list =
    [ GlorotUniform(); HeNormal(3); Constant(0.5); RandomNormal(0.1, 0.2, Nullable 7); Orthogonal(1.5, Nullable 2)
      VarianceScaling(2.0, "fan_out", "uniform", Nullable 5); Zeros(); LecunUniform() ]
let private regularizers: obj list = [ L2(0.02); L1L2(0.1, 0.2); L1(0.3); OrthogonalRegularizer(0.1, "columns") ]
let private constraints: obj list = [ MaxNorm(3.0, IntTuple(0, 1)); NonNeg(); UnitNorm(IntTuple 1); MinMaxNorm(0.5, 2.0, 0.5, IntTuple 0) ]

/// Values to try for a parameter of type t (the first ones are the likeliest to be valid).
let candidates (t: Type) : obj list =
    let t = under t
    if t = typeof<int> then [ 2; 1; 3; 4; -1 ] |> List.map box
    elif t = typeof<int64> then [ 2L; 1L ] |> List.map box
    elif t = typeof<IntTuple> then
        [ IntTuple 2; IntTuple(1, 2); IntTuple(2, 2); IntTuple(1, 1); IntTuple(2, 2, 2); IntTuple(2, 1); IntTuple 1; IntTuple(1, 2, 3); IntTuple(-1, 2) ]
        |> List.map box
    elif t = typeof<double> then [ 0.5; 0.1; 0.0; 1.0; 2.0 ] |> List.map box
    elif t = typeof<float32> then [ 0.5f; 1.0f ] |> List.map box
    elif t = typeof<bool> then [ true; false ] |> List.map box
    elif t = typeof<string> then
        [ "nearest"; "bilinear"; "fan_in"; "fan_out"; "fan_avg"; "uniform"; "truncated_normal"; "rows"; "columns"; "ab,bc->ac"; "sum"; "ave" ] |> List.map box
    elif t = typeof<Padding> then [ Padding.Valid; Padding.Same ] |> List.map box
    elif t = typeof<DataFormat> then [ DataFormat.ChannelsLast; DataFormat.ChannelsFirst ] |> List.map box
    elif t = typeof<ActivationFunction> then [ ActivationFunction.Relu; ActivationFunction.Sigmoid; ActivationFunction.Gelu ] |> List.map box
    elif t = typeof<Initializer> then initializers
    elif t = typeof<Regularizer> then regularizers
    elif t = typeof<Constraint> then constraints
    elif t = typeof<SidePairs> then
        [ SidePairs 1; SidePairs.Symmetric(1, 2); SidePairs.Symmetric(1, 2, 3); SidePairs.FromPairs(struct (1, 2), struct (3, 4))
          SidePairs.FromPairs(struct (1, 0), struct (0, 1), struct (2, 2)) ] |> List.map box
    elif t = typeof<Shape> then [ Shape 2; Shape(2, 3) ] |> List.map box
    elif t = typeof<FloatTuple> then [ FloatTuple 0.5; FloatTuple.List(1.0, 2.0, 3.0); FloatTuple.List 2.0 ] |> List.map box
    // Wrapped layers (Bidirectional, TimeDistributed, RNN's cell and StackedRNNCells' cells).
    elif t = typeof<RecurrentLayer> then [ LSTM(2) :> RecurrentLayer; GRU(3, returnSequences = true); SimpleRNN(2, goBackwards = true) ] |> List.map box
    elif t = typeof<Layer> then [ Dense(2) :> Layer; LSTMCell(2); StackedRNNCells(GRUCell(2), SimpleRNNCell(3)) ] |> List.map box
    elif t = typeof<RecurrentCell[]> then [ [| LSTMCell(2) :> RecurrentCell |]; [| GRUCell(2); SimpleRNNCell(3) |] ] |> List.map box
    else []

/// The constructor configs are read through: the public one with the most parameters.
let kerasConstructor (t: Type) =
    t.GetConstructors() |> Array.filter (fun c -> not (c.GetParameters() |> Array.exists (fun p -> p.ParameterType = t)))
    |> Array.sortByDescending (fun c -> c.GetParameters().Length) |> Array.head

let private defaultOf (p: ParameterInfo) =
    if isNull p.DefaultValue && p.ParameterType.IsValueType then Activator.CreateInstance p.ParameterType else p.DefaultValue

let private tryMake (ctor: ConstructorInfo) (args: obj[]) =
    try Some(ctor.Invoke args) with :? TargetInvocationException -> None

/// A valid instance from the required arguments' candidates (defaults elsewhere), if any combination is accepted.
let baseInstance (t: Type) =
    let ctor = kerasConstructor t
    let ps = ctor.GetParameters()
    let rec search i (args: obj list) =
        if i = ps.Length then tryMake ctor (Array.ofList (List.rev args))
        elif ps.[i].HasDefaultValue then search (i + 1) (defaultOf ps.[i] :: args)
        else candidates ps.[i].ParameterType |> List.tryPick (fun c -> search (i + 1) (c :: args))
    search 0 []

/// Random instances: every argument from its candidates (or its default); combinations a record rejects fall back to the base.
let instances (t: Type) =
    let ctor = kerasConstructor t
    let fallback () = baseInstance t |> Option.defaultWith (fun () -> failwithf "no candidate arguments construct %s" t.Name)
    gen {
        let! args =
            ctor.GetParameters()
            |> Array.map (fun p ->
                let options = candidates p.ParameterType
                let options = if p.HasDefaultValue then defaultOf p :: options else options
                let options = if (not p.ParameterType.IsValueType || Nullable.GetUnderlyingType p.ParameterType <> null) && not (List.contains null options) then options @ [ null ] else options
                Gen.elements (if options.IsEmpty then [ defaultOf p ] else options))
            |> Gen.collectToArray id
        let! name = Gen.elements [ None; Some "custom_name"; Some "layer_7" ]
        let! trainable = Gen.elements [ true; true; false ]
        let made = tryMake ctor args |> Option.defaultWith fallback
        match made with
        | :? Layer as layer ->
            // Fresh instances only (tryMake or a new base), so setting init properties here changes no shared value.
            name |> Option.iter (fun n -> typeof<Layer>.GetProperty("Name").SetValue(layer, n))
            typeof<Layer>.GetProperty("Trainable").SetValue(layer, trainable)
            return box layer
        | other -> return other
    }

let layerTypes =
    typeof<Layer>.Assembly.GetTypes()
    |> Array.filter (fun t -> t.IsPublic && not t.IsAbstract && typeof<Layer>.IsAssignableFrom t && t <> typeof<Input>)
    |> Array.sortBy (fun t -> t.Name)

let familyTypes (family: Type) =
    family.Assembly.GetTypes() |> Array.filter (fun t -> t.IsPublic && not t.IsAbstract && family.IsAssignableFrom t) |> Array.sortBy (fun t -> t.Name)

let roundTrip (layer: Layer) = LayerConfig.FromJson(LayerConfig.ToJson layer)

let modelRoundTrip (m: IModel) = ModelConfig.FromJson(m.ToJson())

/// The document of a model, changed by `edit`, read back: the error it gives.
let brokenBy (model: IModel) (edit: JsonNode -> unit) =
    let doc = JsonNode.Parse(model.ToJson())
    edit doc
    try
        ModelConfig.FromJson(doc.ToJsonString()) |> ignore
        failtest "the document was accepted"
    with :? ModelConfigException as e -> e

let expectError (e: ModelConfigException) (path: string) (fragments: string list) =
    Expect.equal e.JsonPath path "the JSON path"
    Expect.stringStarts e.Message (path + ": ") "the message starts with the path"
    for f in fragments do Expect.stringContains e.Message f f

let small () =
    let x = G.Input(8, 8, 3)
    let y = Conv2D(4, 3, padding = "same").Call x
    let y = Add().Call(Conv2D(4, 1).Call y, y)
    Model(x, Dense(2).Call(Flatten().Call y), name = "small")

let layersOf (doc: JsonNode) = doc.["config"].["layers"].AsArray()

/// The shared Keras-written fixtures (../shared/keras-fixtures next to the repository), when present.
let kerasFixtures () =
    let rec up (d: IO.DirectoryInfo) =
        if isNull d then None
        elif IO.File.Exists(IO.Path.Combine(d.FullName, "Functional.sln")) then Some d.FullName
        else up d.Parent
    [ Some Environment.CurrentDirectory; up (IO.DirectoryInfo AppContext.BaseDirectory) ]
    |> List.choose id
    |> List.map (fun root -> IO.Path.GetFullPath(IO.Path.Combine(root, "..", "shared", "keras-fixtures")))
    |> List.tryFind IO.Directory.Exists

/// The end (exclusive) of the JSON object starting at `start`: braces counted outside strings.
let private objectEnd (bytes: byte[]) (start: int) =
    let mutable depth, inString, escaped, i, result = 0, false, false, start, -1
    while result < 0 && i < bytes.Length do
        let b = char bytes.[i]
        if inString then
            if escaped then escaped <- false
            elif b = '\\' then escaped <- true
            elif b = '"' then inString <- false
        elif b = '"' then inString <- true
        elif b = '{' then depth <- depth + 1
        elif b = '}' then
            depth <- depth - 1
            if depth = 0 then result <- i + 1
        i <- i + 1
    if result < 0 then failwith "unterminated JSON object" else result

let private indexOf (bytes: byte[]) (pattern: byte[]) =
    let mutable found = -1
    let mutable i = 0
    while found < 0 && i <= bytes.Length - pattern.Length do
        if Seq.forall2 (=) pattern (ArraySegment(bytes, i, pattern.Length)) then found <- i
        i <- i + 1
    found

/// The model config a Keras file holds: a JSON file's text, a `.keras` zip's config.json, or an HDF5 file's `model_config`
/// attribute (h5py stores a string attribute this small contiguously, so the JSON text is in the file as written).
let kerasConfigText (file: string) =
    let bytes = IO.File.ReadAllBytes file
    if file.EndsWith(".json", StringComparison.Ordinal) then Text.Encoding.UTF8.GetString bytes
    elif bytes.Length > 2 && bytes.[0] = byte 'P' && bytes.[1] = byte 'K' then
        use zip = new IO.Compression.ZipArchive(new IO.MemoryStream(bytes))
        use reader = new IO.StreamReader(zip.GetEntry("config.json").Open())
        reader.ReadToEnd()
    else
        let start =
            [ "Sequential"; "Model"; "Functional" ]
            |> List.map (fun c -> indexOf bytes (Text.Encoding.ASCII.GetBytes(sprintf "{\"class_name\": \"%s\"" c)))
            |> List.filter (fun i -> i >= 0)
            |> List.min
        Text.Encoding.UTF8.GetString(bytes, start, objectEnd bytes start - start)

/// What a fixture should give: a model of these input shapes and layer classes (InputLayer excluded), or an error at a JSON path.
type FixtureExpectation =
    | Loads of inputs: Shape list * classes: string list
    | Fails of path: string * fragment: string

let fixtureCases =
    let dense = [ "Dense"; "ReLU" ]
    [ "dl4j-dense-relu/ReLU_0_config.json", Loads([ Shape 16 ], dense)
      "dl4j-dense-relu/ReLU_0_model.h5", Loads([ Shape 16 ], dense)
      "dl4j-mlp-softmax/simple_sparse_xent_mlp_keras_2_config.json", Loads([ Shape 4 ], [ "Dense"; "Activation" ])
      "dl4j-mlp-softmax/simple_sparse_xent_mlp_keras_2_model.h5", Loads([ Shape 4 ], [ "Dense"; "Activation" ])
      "dl4j-conv1d/causal_conv1d_k3_s1_d2_cl_config.json", Loads([ Shape(16, 3) ], [ "Conv1D" ])
      "dl4j-conv1d/causal_conv1d_k3_s1_d2_cl_model.h5", Loads([ Shape(16, 3) ], [ "Conv1D" ])
      "dl4j-conv1d/conv1d_k2_s1_d1_cl_same_config.json", Loads([ Shape(16, 3) ], [ "Conv1D" ])
      "dl4j-cnn-batchnorm/cnn_batch_norm.h5",
          Loads([ Shape(10, 10, 3) ], [ "Conv2D"; "BatchNormalization"; "Activation"; "Conv2D"; "Flatten"; "Dense" ])
      "dl4j-embedding-lstm/batch_to_conv2d_tensorflow_2.h5", Loads([ Shape 100 ], [ "Dense"; "Reshape"; "BatchNormalization"; "Conv2D" ])
      "dl4j-tfkeras-functional/adv_act_2.h5", Loads([ Shape(2, 3) ], [ "PReLU" ])
      "dl4j-tfkeras-functional/batchNormError2.h5", Loads([ Shape(25, 25) ], [ "Conv1D"; "BatchNormalization"; "Activation"; "Conv1D" ])
      "hls4ml-conv1d-1layer/conv1d_1layer.json", Loads([ Shape(5, 5) ], [ "Conv1D" ])
      "hls4ml-conv1d-1layer/conv1d_1layer.h5", Loads([ Shape(5, 5) ], [ "Conv1D" ])
      // Its kernel initializer is a Python function ('random_kernel'), which Keras too loads only given custom_objects.
      "hls4ml-conv2d-1layer/conv2d_1layer.json", Fails("$.config.layers[1].config.kernel_initializer", "'random_kernel'")
      "hls4ml-conv2d-1layer/conv2d_1layer.h5", Fails("$.config.layers[1].config.kernel_initializer", "'random_kernel'")
      "hls4ml-prelu/prelu.json", Loads([ Shape 25 ], [ "PReLU" ])
      "hls4ml-prelu/prelu.h5", Loads([ Shape 25 ], [ "PReLU" ])
      "hls4ml-tfkeras211-conv1d-gru/dense_streaming_keras_model.keras", Loads([ Shape 8 ], [ "Dense"; "Dense" ])
      "kotlindl-toyresnet/modelConfig.json",
          Loads([ Shape(28, 28, 1) ], [ "Conv2D"; "Conv2D"; "MaxPooling2D"; "Conv2D"; "Conv2D"; "Add"; "Conv2D"; "Conv2D"; "Add"; "Conv2D"
                                        "GlobalAveragePooling2D"; "Dense"; "Dense" ])
      // Layers the library does not have are named where they stand; so is a model that never declares its input.
      // Keras 2 recurrent configs: `implementation` and Embedding's `input_length` are accepted and dropped, as Keras 3 does.
      "dl4j-lstm/simple_flatten_lstm_tf_keras_2_config.json", Loads([ Shape(1, 1) ], [ "LSTM"; "Dense" ])
      "dl4j-embedding-lstm/embedding_lstm_tensorflow_2.h5", Loads([ Shape 10 ], [ "Embedding"; "LSTM" ])
      // Keras-written SpatialDropout2D configs load now that the layer exists.
      "dl4j-tfkeras-functional/cnn2d_64.h5",
          Loads([ Shape(10, 10, 3) ], [ "Conv2D"; "SpatialDropout2D"; "ZeroPadding2D"; "UpSampling2D"; "Cropping2D"; "MaxPooling2D"
                                        "Conv2D"; "SpatialDropout2D"; "ZeroPadding2D"; "UpSampling2D"; "Cropping2D"; "MaxPooling2D"; "GlobalMaxPooling2D" ])
      "kerasnet-unbuilt-model/model.h5", Fails("$.config.layers", "must start with an InputLayer")
      "k3-functional-custom-layer-kdp/test_model.keras", Fails("$.config.layers[1].class_name", "unknown layer class 'DistributionAwareEncoder'")
      "k3-nested-subclassed/pre_pr22362_nested_container.keras", Fails("$.class_name", "unknown model class 'NestedDenseModel'") ]

[<Tests>]
let tests =
    let roundTripConfig = { pureConfig with maxTest = 60 }
    testList "Model config (JSON)" [
        test "every concrete layer record can be constructed for the round-trip laws (so none is skipped)" {
            Expect.isGreaterThan layerTypes.Length 40 "the catalogue"
            for t in layerTypes do Expect.isSome (baseInstance t) (sprintf "%s has a valid instance from candidate arguments" t.Name)
        }

        testList "every layer round-trips: FromJson(ToJson l) = l" [
            for t in layerTypes ->
                propertyWith roundTripConfig t.Name (Arb.fromGen (instances t |> Gen.map (fun o -> o :?> Layer))) (fun layer ->
                    roundTrip layer = layer)
        ]

        testList "every initializer, regularizer and constraint round-trips inside a layer" [
            for family, wrap in [ typeof<Initializer>, (fun (v: obj) -> Dense(3, kernelInitializer = (v :?> Initializer)) :> Layer)
                                  typeof<Regularizer>, (fun v -> Dense(3, kernelRegularizer = (v :?> Regularizer)))
                                  typeof<Constraint>, (fun v -> Dense(3, biasConstraint = (v :?> Constraint))) ] do
                for t in familyTypes family ->
                    propertyWith roundTripConfig (sprintf "%s %s" family.Name t.Name) (Arb.fromGen (instances t |> Gen.map wrap)) (fun layer ->
                        roundTrip layer = layer)
        ]

        test "every Keras class alias (MaxPool2D, GlobalAvgPool1D, Convolution2D, …) reads as its class; writing uses the canonical name" {
            Expect.isGreaterThanOrEqual LayerConfig.KnownAliases.Count 20 "the aliases"
            for KeyValue(alias, canonical) in LayerConfig.KnownAliases do
                let t = layerTypes |> Array.find (fun t -> t.Name = canonical)
                let layer = (baseInstance t).Value :?> Layer
                let doc = LayerConfig.Serialize layer
                Expect.equal (doc.["class_name"].GetValue<string>()) canonical "written canonical"
                doc.["class_name"] <- JsonValue.Create alias
                Expect.equal (LayerConfig.Deserialize doc) layer (sprintf "%s reads as %s" alias canonical)
        }

        test "InputLayer keeps its shape and name; the config is Keras's (batch_shape with a null batch)" {
            let input = Input(28, 28, 1, Name = "pixels")
            Expect.equal (roundTrip input) (input :> Layer) "round trip"
            let config = (LayerConfig.Serialize input).["config"]
            Expect.equal (config.["batch_shape"].ToJsonString()) "[null,28,28,1]" "batch_shape"
        }

        test "a layer's config uses Keras's class name and snake-case keys" {
            let json = LayerConfig.Serialize(Conv2D(32, 3, strides = 2, padding = "same", activation = "relu", kernelRegularizer = L2(0.001)))
            Expect.equal (json.["class_name"].GetValue<string>()) "Conv2D" "class"
            let config = json.["config"].AsObject()
            for key in [ "name"; "trainable"; "dtype"; "filters"; "kernel_size"; "strides"; "padding"; "data_format"; "dilation_rate"; "groups"
                         "activation"; "use_bias"; "kernel_initializer"; "bias_initializer"; "kernel_regularizer" ] do
                Expect.isTrue (config.ContainsKey key) key
            Expect.equal (config.["kernel_size"].ToJsonString()) "[3,3]" "tuples are lists"
            Expect.equal (config.["padding"].GetValue<string>()) "same" "options are Keras strings"
            Expect.equal (config.["kernel_regularizer"].["class_name"].GetValue<string>()) "L2" "nested objects"
            Expect.equal (config.["kernel_regularizer"].["config"].ToJsonString()) """{"l2":0.001}""" "Keras's key"
            Expect.equal (config.["kernel_initializer"].["config"].ToJsonString()) """{"seed":null}""" "GlorotUniform is just its seed, as in Keras"
        }

        test "the seed CNN, and Sequential models generally, round-trip to equal models" {
            let m = ModelTests.seedCnn ()
            Expect.equal (modelRoundTrip m) (m :> IModel) "seed CNN"
            let frozen = Sequential("frozen", [ Input(4) :> Layer; Dense(3, Trainable = false, activityRegularizer = L1(0.1)); Dropout(0.25, Nullable 3) ])
            Expect.equal (modelRoundTrip frozen) (frozen :> IModel) "names, trainable flags, regularizers, seeds"
        }

        test "the residual, Inception, DenseNet, SE and two-input/two-output graphs round-trip" {
            for m in [ GraphTests.residualBlock (); GraphTests.inceptionBlock (); GraphTests.denseBlock 3 8; GraphTests.seBlock 16 4; GraphTests.twoInTwoOut () ] do
                Expect.equal (modelRoundTrip m) (m :> IModel) m.Name
        }

        test "nested and shared models round-trip: a model used twice stays one model" {
            let inner = Sequential("tower", [ Input(6) :> Layer; Dense(4, activation = "relu") ])
            let graphInner = GraphTests.twoInTwoOut ()
            let a, b = G.Input(Shape 6, "a"), G.Input(Shape 6, "b")
            let t, body = G.Input(Shape 10, "t"), G.Input(Shape 20, "u")
            let outs = graphInner.CallMany(t, body)
            let m = Model([ a; b; t; body ], [ Add().Call(inner.Call a, inner.Call b); outs.[0]; outs.[1] ], name = "outer")
            let back = modelRoundTrip m :?> Model
            Expect.equal back m "equal"
            Expect.equal (back.GetLayer "tower").Nodes.Length 2 "the nested model is applied twice"
            Expect.equal back.ParameterCount m.ParameterCount "counted once"
        }

        propertyWith pureConfig "generated graphs round-trip: FromJson(ToJson m) = m" GraphTests.graphs (fun m -> modelRoundTrip m = (m :> IModel))

        test "a functional model written by Keras 3 (model.to_json()) loads as the same model" {
            let doc = """
            {"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "tiny", "trainable": true,
              "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 8], "dtype": "float32", "sparse": false,
                  "ragged": false, "name": "features", "optional": false}, "registered_name": null, "name": "features", "inbound_nodes": []},
                {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true,
                  "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
                  "units": 4, "activation": "relu", "use_bias": true,
                  "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
                  "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                  "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null,
                  "quantization_config": null},
                  "registered_name": null, "build_config": {"input_shape": [null, 8]}, "name": "dense",
                  "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 8], "dtype": "float32",
                    "keras_history": ["features", 0, 0]}}], "kwargs": {}}]},
                {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "dtype": "float32",
                  "units": 2, "activation": "linear", "use_bias": true,
                  "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
                  "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                  "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null},
                  "registered_name": null, "build_config": {"input_shape": [null, 4]}, "name": "dense_1",
                  "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"shape": [null, 4], "dtype": "float32",
                    "keras_history": ["dense", 0, 0]}}], "kwargs": {"training": false}}]}],
              "input_layers": [["features", 0, 0]], "output_layers": [["dense_1", 0, 0]]},
             "registered_name": "Functional", "build_config": {"input_shape": null}, "compile_config": null}"""
            let features = G.Input(Shape 8, "features")
            let expected = Model(features, Dense(2).Call(Dense(4, activation = "relu").Call features), name = "tiny")
            Expect.equal (ModelConfig.FromJson doc) (expected :> IModel) "same model"
        }

        test "Keras 2's legacy node format and a Sequential written by Keras load too" {
            let legacy = """
            {"class_name": "Functional", "config": {"name": "model", "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8], "dtype": "float32", "sparse": false, "ragged": false,
                  "name": "input_1"}, "name": "input_1", "inbound_nodes": []},
                {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 4, "activation": "relu",
                  "use_bias": true, "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": null}},
                  "bias_initializer": {"class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null,
                  "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null},
                  "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]}],
              "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}, "keras_version": "2.13.1", "backend": "tensorflow"}"""
            let x = G.Input(Shape 8, "input_1")
            Expect.equal (ModelConfig.FromJson legacy) (Model(x, Dense(4, activation = "relu").Call x, name = "model") :> IModel) "legacy"
            let sequential = """
            {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true,
              "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null},
              "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 28, 28, 1], "dtype": "float32",
                  "sparse": false, "ragged": false, "name": "input_layer"}, "registered_name": null},
                {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": "float32",
                  "filters": 32, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same", "data_format": "channels_last",
                  "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true,
                  "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}, "registered_name": null},
                  "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null},
                  "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null,
                  "bias_constraint": null}, "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 1]}},
                {"module": "keras.layers", "class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "trainable": true, "dtype": "float32",
                  "pool_size": [2, 2], "padding": "valid", "strides": [2, 2], "data_format": "channels_last"}, "registered_name": null},
                {"module": "keras.layers", "class_name": "Flatten", "config": {"name": "flatten", "trainable": true, "dtype": "float32",
                  "data_format": "channels_last"}, "registered_name": null},
                {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": "float32",
                  "units": 10, "activation": "softmax", "use_bias": true}, "registered_name": null}]},
             "registered_name": null, "build_config": {"input_shape": [null, 28, 28, 1]}}"""
            let expected =
                Sequential(Input(28, 28, 1, Name = "input_layer"), Conv2D(32, 3, padding = "same", activation = "relu"), MaxPooling2D(2),
                           Flatten(), Dense(10, activation = "softmax"))
            Expect.equal (ModelConfig.FromJson sequential) (expected :> IModel) "sequential"
        }

        test "a Keras 2 Sequential whose first layer declares batch_input_shape starts with that input, as Keras 3 builds it" {
            let doc = """
            {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
                {"class_name": "Dense", "config": {"name": "dense", "trainable": true, "batch_input_shape": [null, 16], "dtype": "float32",
                  "units": 32, "activation": "linear", "use_bias": true, "kernel_regularizer": null, "bias_regularizer": null,
                  "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}},
                {"class_name": "ReLU", "config": {"name": "re_lu_1", "trainable": true, "dtype": "float32", "max_value": null,
                  "negative_slope": 0.0, "threshold": 0.0}}]}, "keras_version": "2.3.1", "backend": "tensorflow"}"""
            let expected = Sequential("sequential_1", [ Input(16) :> Layer; Dense(32, Name = "dense"); ReLU(Name = "re_lu_1") ])
            Expect.equal (ModelConfig.FromJson doc) (expected :> IModel) "the input comes from batch_input_shape"
            // input_shape (per sample) and input_dim declare it too; only the first layer's counts, and it wins over build_input_shape.
            let first (key: string) (value: string) =
                sprintf """{"class_name": "Sequential", "config": {"name": "s", "build_input_shape": [null, 99], "layers": [
                    {"class_name": "Dense", "config": {"units": 3, "%s": %s}},
                    {"class_name": "Dense", "config": {"units": 2, "batch_input_shape": [null, 77]}}]}}""" key value
                |> ModelConfig.FromJson
            let twoDense = Sequential("s", [ Input(5) :> Layer; Dense(3); Dense(2) ])
            Expect.equal (first "input_shape" "[5]") (twoDense :> IModel) "input_shape"
            Expect.equal (first "input_dim" "5") (twoDense :> IModel) "input_dim"
            Expect.equal (first "batch_input_shape" "[null, 5]") (twoDense :> IModel) "batch_input_shape"
            Expect.equal (first "input_shape" "null") (Sequential("s", [ Input(99) :> Layer; Dense(3); Dense(2) ]) :> IModel) "else build_input_shape"
            // An InputLayer first (hls4ml's files repeat the shape on the next layer): the InputLayer decides.
            let withInput = """{"class_name": "Sequential", "config": {"name": "s", "layers": [
                {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 5, 5, 1], "name": "in"}},
                {"class_name": "Flatten", "config": {"batch_input_shape": [null, 9, 9, 1]}}]}}"""
            Expect.equal (ModelConfig.FromJson withInput) (Sequential("s", [ Input(5, 5, 1, Name = "in") :> Layer; Flatten() ]) :> IModel) "InputLayer first"
        }

        test "Keras 2's bare-list Sequential config loads; a Sequential with no input shape anywhere, or batch_shape on a layer, is refused" {
            let legacy = """{"class_name": "Sequential", "keras_version": "2.1.3", "config": [
                {"class_name": "Dense", "config": {"name": "dense_1", "units": 4, "batch_input_shape": [null, 3]}},
                {"class_name": "Activation", "config": {"name": "act", "activation": "relu"}}]}"""
            Expect.equal (ModelConfig.FromJson legacy)
                (Sequential("sequential", [ Input(3) :> Layer; Dense(4, Name = "dense_1"); Activation("relu", Name = "act") ]) :> IModel) "list config"
            // null is Keras's None: an unknown dimension, which Dense takes anywhere but on its last axis.
            let sequences = """{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"units": 4, "batch_input_shape": [null, null, 3]}}]}"""
            Expect.equal (ModelConfig.FromJson sequences).OutputShapes.[0] (Shape(Nullable(), Nullable 4)) "(None, None, 4)"
            let bad = """{"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"units": 4, "batch_input_shape": [null, 3, null]}}]}"""
            throwsWith<ModelConfigException> [ "Dense"; "(None, 3, None)"; "last dimension"; "Found None" ] (fun () -> ModelConfig.FromJson bad |> ignore)
            let unbuilt = """{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"units": 4}}]}}"""
            let e = try ModelConfig.FromJson unbuilt |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
            expectError e "$.config.layers" [ "must start with an InputLayer"; "batch_input_shape"; "build_input_shape" ]
            // Keras 3's Layer takes input_shape and input_dim, but batch_shape only on an InputLayer.
            let batchShape = """{"class_name": "Sequential", "config": {"name": "s", "layers": [{"class_name": "Dense", "config": {"units": 4, "batch_shape": [null, 3]}}]}}"""
            let e = try ModelConfig.FromJson batchShape |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
            expectError e "$.config.layers[0].config.batch_shape" [ "Dense has no argument 'batch_shape'" ]
        }

        test "LeakyReLU's old alpha is read as negative_slope (and wins over it, as in Keras 3); errors name the key as written" {
            let read (config: string) = LayerConfig.FromJson(sprintf """{"class_name": "LeakyReLU", "config": %s}""" config)
            Expect.equal (read """{"alpha": 0.2}""") (LeakyReLU(0.2) :> Layer) "alpha"
            Expect.equal (read """{"alpha": 0.1, "negative_slope": 0.5}""") (LeakyReLU(0.1) :> Layer) "alpha wins"
            Expect.equal (read """{"negative_slope": 0.5}""") (LeakyReLU(0.5) :> Layer) "the current name"
            Expect.stringContains (LayerConfig.ToJson(LeakyReLU(0.2))) "negative_slope" "written with the current name"
            let e = try read """{"alpha": -1.0}""" |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
            expectError e "$.config.alpha" [ "LeakyReLU"; "negativeSlope=-1" ]
            let e = try read """{"alpha": "big"}""" |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
            expectError e "$.config.alpha" [ "expected a number" ]
        }

        test "a null in Reshape's target_shape is the unknown dimension (-1); two unknowns are refused" {
            let read (target: string) = LayerConfig.FromJson(sprintf """{"class_name": "Reshape", "config": {"target_shape": %s}}""" target)
            Expect.equal (read "[null, 4]") (Reshape(IntTuple(-1, 4)) :> Layer) "null is -1"
            Expect.equal ((read "[2, null]").ComputeOutputShape(Shape 8)) (Shape(2, 4)) "inferred"
            let e = try read "[null, -1]" |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
            expectError e "$.config.target_shape" [ "more than one -1" ]
        }

        testList "Keras-written files (../shared/keras-fixtures) load, or fail naming what the library lacks" [
            for file, expectation in fixtureCases ->
                test file {
                    match kerasFixtures () with
                    | None -> skiptest "../shared/keras-fixtures is absent (the Keras-written fixtures live outside the repository)"
                    | Some dir ->
                        let text = kerasConfigText (IO.Path.Combine(dir, file))
                        match expectation with
                        | Loads(inputs, classes) ->
                            let model = ModelConfig.FromJson text
                            Expect.equal (List.ofSeq model.InputShapes) inputs "input shapes"
                            Expect.equal [ for l in model.Layers do if not (l :? Input) then l.ClassName ] classes "layer classes"
                            Expect.equal (modelRoundTrip model) model "and it round-trips"
                        | Fails(path, fragment) ->
                            let e = try ModelConfig.FromJson text |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
                            expectError e path [ fragment ]
                }
        ]

        testList "bad documents name the JSON path of the problem" [
            test "an unknown layer class" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["class_name"] <- JsonValue.Create "Conv9D")
                expectError e "$.config.layers[1].class_name" [ "unknown layer class 'Conv9D'"; "Conv2D" ]
            }

            test "a value of the wrong type" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].["kernel_size"] <- JsonValue.Create "three")
                expectError e "$.config.layers[1].config.kernel_size" [ "expected an integer or a list of integers"; "\"three\" (string)" ]
            }

            test "a value the layer rejects" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].["filters"] <- JsonValue.Create 0)
                expectError e "$.config.layers[1].config.filters" [ "Conv2D"; "filters"; "Received: filters=0" ]
            }

            test "a missing required field" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].AsObject().Remove "filters" |> ignore)
                expectError e "$.config.layers[1].config" [ "missing field 'filters'"; "Conv2D requires it" ]
            }

            test "an unknown argument" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].["kernel_sise"] <- JsonValue.Create 3)
                expectError e "$.config.layers[1].config.kernel_sise" [ "Conv2D has no argument 'kernel_sise'"; "kernel_size" ]
            }

            test "an unknown initializer class" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].["kernel_initializer"].["class_name"] <- JsonValue.Create "Glorot")
                expectError e "$.config.layers[1].config.kernel_initializer.class_name" [ "unknown initializer class 'Glorot'"; "GlorotUniform" ]
            }

            test "a dtype that is not a dtype policy" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["config"].["dtype"] <- JsonValue.Create "float12")
                expectError e "$.config.layers[1].config.dtype" [ "Cannot convert 'float12'" ]
            }

            test "an inbound reference to a layer that does not exist" {
                let e = brokenBy (small ()) (fun d ->
                    (layersOf d).[2].["inbound_nodes"].[0].["args"].[0].["config"].["keras_history"].[0] <- JsonValue.Create "conv9")
                expectError e "$.config.layers[2].inbound_nodes[0]" [ "refers to layer 'conv9'"; "not in the model" ]
            }

            test "an inbound reference to a node that does not exist" {
                let e = brokenBy (small ()) (fun d ->
                    (layersOf d).[2].["inbound_nodes"].[0].["args"].[0].["config"].["keras_history"].[1] <- JsonValue.Create 3)
                expectError e "$.config.layers[2].inbound_nodes[0]" [ "node 3 of 'conv2d'"; "1 node(s)" ]
            }

            test "an output reference to a layer that does not exist" {
                let e = brokenBy (small ()) (fun d -> d.["config"].["output_layers"].[0].[0] <- JsonValue.Create "nope")
                expectError e "$.config.output_layers[0]" [ "refers to layer 'nope'" ]
            }

            test "a cycle names the layers on it" {
                let x = G.Input(4)
                let m = Model(x, Dense(4, Name = "second").Call(Dense(4, Name = "first").Call x))
                let e = brokenBy m (fun d ->
                    let first = layersOf d |> Seq.find (fun l -> l.["name"].GetValue<string>() = "first")
                    first.["inbound_nodes"].[0].["args"].[0].["config"].["keras_history"].[0] <- JsonValue.Create "second")
                expectError e "$.config.layers" [ "cycle"; "'first'[0]"; "'second'[0]" ]
            }

            test "a layer that cannot take its input is named where it stands" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[2].["config"].["filters"] <- JsonValue.Create 5)
                expectError e "$.config.layers[3]" [ "Add 'add'"; "(8, 8, 5)"; "(8, 8, 4)" ]
            }

            test "a Lambda layer is refused: loading never executes code" {
                let e = brokenBy (small ()) (fun d -> (layersOf d).[1].["class_name"] <- JsonValue.Create "Lambda")
                expectError e "$.config.layers[1].class_name" [ "Lambda layers hold code"; "never executes code" ]
            }

            test "a null dimension in a batch-first shape is Keras's None; a bad one is reported at its own index in the list" {
                let seq = Sequential(Input(28, 5, 1), Flatten())
                let doc = JsonNode.Parse(seq.ToJson())
                (layersOf doc).[0].["config"].["batch_shape"].[2] <- null
                let loaded = ModelConfig.FromJson(doc.ToJsonString())
                Expect.equal loaded.InputShapes.[0] (Shape(Nullable 28, Nullable(), Nullable 1)) "null reads as an unknown dimension"
                Expect.equal loaded.OutputShapes.[0] (Shape(Nullable<int>())) "Flatten of an unknown size is unknown"
                let written = JsonNode.Parse(loaded.ToJson())
                Expect.equal ((layersOf written).[0].["config"].["batch_shape"].ToJsonString()) "[null,28,null,1]" "and writes back as null"
                Expect.equal (ModelConfig.FromJson(loaded.ToJson())) loaded "round trip"
                let e = brokenBy seq (fun d -> (layersOf d).[0].["config"].["batch_shape"].[2] <- JsonValue.Create -3)
                expectError e "$.config.layers[0].config.batch_shape[2]" [ "positive integer" ]
                let e = brokenBy seq (fun d -> (layersOf d).[0].["config"].["batch_shape"].[1] <- JsonValue.Create "28")
                expectError e "$.config.layers[0].config.batch_shape[1]" [ "expected an integer"; "\"28\" (string)" ]
                let e = brokenBy seq (fun d ->
                    let c = (layersOf d).[0].["config"].AsObject()
                    c.["batch_input_shape"] <- c.["batch_shape"].DeepClone()
                    c.Remove "batch_shape" |> ignore
                    c.["batch_input_shape"].[3] <- JsonValue.Create 0)
                expectError e "$.config.layers[0].config.batch_input_shape[3]" [ "positive integer or null" ]
                let e = brokenBy seq (fun d ->
                    (layersOf d).RemoveAt 0
                    d.["config"].["build_input_shape"] <- JsonNode.Parse "[null, 28, -1, 1]")
                expectError e "$.config.build_input_shape[2]" [ "positive integer or null" ]
            }

            test "a stray element in a list of pairs is reported where it stands" {
                let m = Sequential(Input(8, 8, 1), Cropping2D(((1, 2), (3, 1))))
                let e = brokenBy m (fun d -> (layersOf d).[1].["config"].["cropping"].[1] <- JsonValue.Create "3")
                expectError e "$.config.layers[1].config.cropping[1]" [ "expected a pair [before, after]"; "\"3\" (string)" ]
                let e = brokenBy m (fun d -> (layersOf d).[1].["config"].["cropping"].[0] <- JsonValue.Create 2)
                expectError e "$.config.layers[1].config.cropping[0]" [ "expected a pair [before, after]"; "2 (number)" ]
            }

            test "malformed JSON and a missing model class are JSON errors too" {
                Expect.throwsC (fun () -> ModelConfig.FromJson "{ not json" |> ignore) (fun e -> Expect.isTrue (e :? JsonException) "a JsonException")
                let e = try ModelConfig.FromJson """{"config": {}}""" |> ignore; failtest "accepted" with :? ModelConfigException as e -> e
                expectError e "$.class_name" [ "expected a model class name"; "got null" ]
            }
        ]

        test "a Lambda layer cannot be written to a config: it holds code" {
            let lambda = Lambda(Func<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor>(fun t -> t), Shape 4)
            throwsWith<NotSupportedException> [ "Lambda"; "holds code" ] (fun () -> LayerConfig.ToJson lambda |> ignore)
        }
    ]
