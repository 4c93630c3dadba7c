"""Posed scene files (SRN and scene-folder layouts): poses read back exactly in both camera
conventions and both up axes, frames decoded as written, the batches' rules, every bad input's
one clear error, and a tiny model that learns from each layout's files."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest

import posed_files
from gqn_jax.data import camera_frames
from gqn_jax.data import posed_batches
from gqn_jax.data import posed_scenes
from gqn_jax.data import views
from gqn_jax.model import gqn
from gqn_jax.runs import camera_scale
from gqn_jax.runs import config_files
from gqn_jax.runs import configs
from gqn_jax.runs import image_metrics
from gqn_jax.scenes import stream
from gqn_jax.training import distributed
from gqn_jax.training import train

ROOMS = "rooms_ring_camera"
SIZE = 16


@pytest.fixture(scope="module")
def rooms():
  """uint8 frames [N, S, 16, 16, 3] and poses [N, S, 5] of procedural rooms (the writer's input)."""
  frames, poses = stream.test_scenes(ROOMS, 12, SIZE)
  return {"train": (frames[:8], poses[:8]), "test": (frames[8:], poses[8:])}


def load(layout, root, name="srn", max_context=3):
  posed_scenes.load.cache_clear()
  return posed_scenes.load(layout, str(root), name, max_context)


def assert_same_poses(read_Sx5, written_Sx5):
  np.testing.assert_allclose(read_Sx5[:, :3], written_Sx5[:, :3], atol=1e-5)
  yaw_gap = np.angle(np.exp(1j * (read_Sx5[:, 3] - written_Sx5[:, 3])))  # wrapped to (-pi, pi]
  np.testing.assert_allclose(yaw_gap, 0, atol=1e-5)
  np.testing.assert_allclose(read_Sx5[:, 4], written_Sx5[:, 4], atol=1e-5)


@pytest.mark.parametrize("up", ["z", "y"])
@pytest.mark.parametrize("layout", ["srn", "scene_folders"])
def test_poses_and_frames_read_back_as_written(rooms, tmp_path, layout, up):
  writer = posed_files.write_srn if layout == "srn" else posed_files.write_scene_folders
  writer(str(tmp_path), rooms, up=up)
  dataset = load(layout, tmp_path)
  assert dataset.up_axis == f"+{up}"
  assert dataset.convention == ("opencv" if layout == "srn" else "opengl")
  assert abs(dataset.fov_deg - 45.0) < 1e-6
  for split in ("train", "test"):
    frames, poses = rooms[split]
    assert len(dataset.scenes[split]) == len(frames)
    for index in range(len(frames)):
      assert_same_poses(dataset.poses[split][index], poses[index])
    scene = dataset.scenes[split][1]
    np.testing.assert_array_equal(posed_scenes.read_views(scene, [0, 2], SIZE), frames[1][[0, 2]])


def test_transparent_pixels_become_white_and_views_are_area_resized(tmp_path):
  rgba = np.zeros((1, 2, 8, 8, 4), np.uint8)
  rgba[..., :3] = 40
  rgba[:, :, :4, :, 3] = 255  # the top half opaque grey, the bottom transparent
  poses = np.zeros((1, 2, 5))
  poses[..., 0] = [[-3.0, 3.0]]
  poses[..., 3] = [[0.0, np.pi]]
  posed_files.write_scene_folders(str(tmp_path), {"train": (rgba, poses), "test": (rgba, poses)},
                                  with_suffix=True)
  dataset = load("scene_folders", tmp_path, max_context=1)
  full = posed_scenes.read_views(dataset.scenes["train"][0], [0], 8)[0]
  assert (full[:4] == 40).all() and (full[4:] == 255).all()
  half = posed_scenes.read_views(dataset.scenes["train"][0], [0], 4)[0]  # 2x2 blocks averaged
  assert (half[:2] == 40).all() and (half[2:] == 255).all()


def test_a_wide_image_is_cropped_to_its_centre_square(tmp_path):
  pixels = np.zeros((4, 8, 3), np.uint8)
  pixels[:, 2:6] = 200
  path = tmp_path / "wide.png"
  Image.fromarray(pixels).save(path)
  assert (posed_scenes.read_view(str(path), 4) == 200).all()
  assert abs(posed_scenes.square_fov_deg(90.0, 8, 4) - 2 * np.degrees(np.arctan(0.5))) < 1e-9


def test_a_rolled_camera_is_refused_naming_its_file_and_roll(rooms, tmp_path):
  folders = posed_files.write_srn(str(tmp_path), rooms)
  pose_file = os.path.join(folders["train"][2], "pose", "000003.txt")
  pose = rooms["train"][1][2, 3]
  np.savetxt(pose_file, posed_files.camera_to_world(pose, "opencv", roll_deg=10.0))
  with pytest.raises(camera_frames.PoseError, match=r"000003.txt.*rolled by 10.00 degrees"):
    load("srn", tmp_path)


def test_the_roll_formula_gives_the_angle_written():
  pose = np.array([1.0, 2.0, 0.5, 0.7, -0.3])
  for roll in (-30.0, 0.0, 5.0, 120.0):
    matrix = posed_files.camera_to_world(pose, "opengl", roll_deg=roll)
    poses, roll_deg = camera_frames.viewpoints(matrix[None], "opengl", np.eye(3))
    assert abs(roll_deg[0] - roll) < 1e-9
    if abs(roll) < 90:
      assert_same_poses(poses, pose[None])


@pytest.mark.parametrize("convention", ["opencv", "opengl"])
def test_camera_to_world_inverts_viewpoints(convention):
  poses = np.array([[1.0, 2.0, 0.5, 0.7, -0.3], [-4.0, 0.0, 2.0, -2.5, 0.6]])
  matrices = camera_frames.camera_to_world(poses, convention)
  for matrix in matrices:
    camera_frames.check_matrix(matrix, "test")
  back, roll = camera_frames.viewpoints(matrices, convention, np.eye(3))
  assert_same_poses(back, poses)
  np.testing.assert_allclose(roll, 0, atol=1e-9)
  np.testing.assert_allclose(matrices[0], posed_files.camera_to_world(poses[0], convention),
                             atol=1e-12)


def test_up_rotation_is_a_rotation_taking_the_axis_to_z():
  for axis in range(3):
    for sign in (1.0, -1.0):
      rotation = camera_frames.up_rotation(axis, sign)
      np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
      assert abs(np.linalg.det(rotation) - 1) < 1e-12
      up = np.zeros(3)
      up[axis] = sign
      np.testing.assert_allclose(rotation @ up, [0, 0, 1], atol=1e-12)


def test_evaluation_views_follow_the_pixelnerf_protocol():
  chosen = posed_batches.evaluation_views(251, 5, scene_index=3)
  assert list(chosen[1:3]) == [64, 104] and len(set(chosen)) == 6
  assert chosen[0] not in chosen[1:]
  assert list(posed_batches.evaluation_views(251, 5, 3)) == list(chosen)  # fixed
  small = posed_batches.evaluation_views(6, 5, scene_index=0)
  assert sorted(small) == list(range(6))


def test_training_batches_are_a_function_of_their_index(rooms, tmp_path):
  posed_files.write_srn(str(tmp_path), rooms)
  dataset = load("srn", tmp_path)
  make = lambda: posed_batches.TrainBatches(dataset, batch_size=4, max_context=3,
                                            image_size=SIZE, seed=5)
  first = make()
  batches = [next(first) for _ in range(5)]
  state = first.get_state()
  after = next(first)
  first.close()
  resumed = make()
  resumed.set_state(state)
  np.testing.assert_array_equal(next(resumed)["query_frame"], after["query_frame"])
  resumed.close()
  for batch in batches:  # the query is never one of the context views
    for slot in range(4):
      for view in range(3):
        if batch["context_mask"][slot, view]:
          assert not np.array_equal(batch["context_cameras"][slot, view],
                                    batch["query_camera"][slot])
  # every scene once per epoch: 8 training scenes in two batches of 4
  seen = posed_batches.scene_positions(5, 8, np.arange(8))
  assert sorted(seen) == list(range(8))


# ---- bad input: one clear error each, naming the file ----

def _srn(tmp_path, rooms):
  return posed_files.write_srn(str(tmp_path), rooms)


def test_a_pose_file_without_16_numbers(rooms, tmp_path):
  folders = _srn(tmp_path, rooms)
  path = os.path.join(folders["test"][1], "pose", "000002.txt")
  with open(path, "w") as f:
    f.write(" ".join(["1.0"] * 15))
  with pytest.raises(posed_scenes.PosedDataError, match=r"000002.txt: .*16 numbers.*holds 15"):
    load("srn", tmp_path)


@pytest.mark.parametrize("bad,match", [
    (np.diag([2.0, 2.0, 2.0, 1.0]), "not a rigid camera-to-world transform"),
    (np.full((4, 4), np.nan), "NaN or infinite"),
])
def test_a_pose_that_is_not_a_rigid_transform(rooms, tmp_path, bad, match):
  folders = _srn(tmp_path, rooms)
  path = os.path.join(folders["train"][0], "pose", "000001.txt")
  np.savetxt(path, bad)
  with pytest.raises(camera_frames.PoseError, match=r"000001.txt: .*" + match):
    load("srn", tmp_path)


@pytest.mark.parametrize("remove", ["rgb/000004.png", "pose/000004.txt"])
def test_a_view_without_its_image_or_pose(rooms, tmp_path, remove):
  folders = _srn(tmp_path, rooms)
  os.remove(os.path.join(folders["train"][3], remove))
  with pytest.raises(posed_scenes.PosedDataError, match=r"000004.*every view needs an image"):
    load("srn", tmp_path)


def test_a_frame_whose_image_is_missing(rooms, tmp_path):
  folders = posed_files.write_scene_folders(str(tmp_path), rooms)
  os.remove(os.path.join(folders["test"][0], "images", "view_002.png"))
  with pytest.raises(posed_scenes.PosedDataError,
                     match=r"transforms.json frames\[2\]: its image .*view_002.png is missing"):
    load("scene_folders", tmp_path)


def test_images_of_mixed_sizes_in_a_scene(rooms, tmp_path):
  folders = _srn(tmp_path, rooms)
  path = os.path.join(folders["train"][1], "rgb", "000005.png")
  Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(path)
  with pytest.raises(posed_scenes.PosedDataError, match=r"000005.png: 20x20 pixels, but .*16x16"):
    load("srn", tmp_path)


def test_scenes_whose_fields_of_view_differ(rooms, tmp_path):
  folders = posed_files.write_scene_folders(str(tmp_path), rooms)
  path = os.path.join(folders["test"][2], "transforms.json")
  with open(path) as f:
    transforms = json.load(f)
  transforms["camera_angle_x"] = 1.0
  with open(path, "w") as f:
    json.dump(transforms, f)
  with pytest.raises(posed_scenes.PosedDataError,
                     match=r"1 of 12 scenes have another field of view "
                     r".*test/scene_0002 \(57.30\)"):
    load("scene_folders", tmp_path)


def test_a_scene_with_too_few_views(rooms, tmp_path):
  frames, poses = rooms["train"]
  few = dict(rooms, train=(frames[:, :3], poses[:, :3]))
  posed_files.write_srn(str(tmp_path), few)
  with pytest.raises(posed_scenes.PosedDataError,
                     match=r"things_train/instance_0000: 3 views, but .*max_context=3 needs 4"):
    load("srn", tmp_path)


def test_an_unknown_layout_lists_what_it_found(rooms, tmp_path):
  posed_files.write_scene_folders(str(tmp_path), rooms)
  with pytest.raises(posed_scenes.PosedDataError,
                     match=r"no '<name>_train' folder.*found at .*: test/, train/\. "
                     r"Accepted layouts"):
    load("srn", tmp_path)
  shutil.rmtree(tmp_path / "test")
  with pytest.raises(posed_scenes.PosedDataError, match=r"test is missing"):
    load("scene_folders", tmp_path)


def test_several_srn_datasets_need_a_name(rooms, tmp_path):
  posed_files.write_srn(str(tmp_path), rooms, name="cars")
  posed_files.write_srn(str(tmp_path), rooms, name="chairs")
  with pytest.raises(posed_scenes.PosedDataError, match=r"\['cars', 'chairs'\]; pick one"):
    load("srn", tmp_path)
  assert load("srn", tmp_path, name="chairs").scenes["test"][0].name.startswith("chairs_test/")


def test_bad_transforms_json(rooms, tmp_path):
  folders = posed_files.write_scene_folders(str(tmp_path), rooms)
  with open(os.path.join(folders["train"][0], "transforms.json"), "w") as f:
    f.write("{not json")
  with pytest.raises(posed_scenes.PosedDataError, match=r"scene_0000/transforms.json: not valid"):
    load("scene_folders", tmp_path)


def test_an_empty_root_is_a_config_error():
  config = config_files.load("configs/srn.py:tiny")
  with pytest.raises(ValueError, match=r"config.data.root, which is empty"):
    configs.check_config(config, 1)


# ---- a tiny model learns from each layout's files ----

LEARN_STEPS = 300
LEARN_MARGIN_DB = 0.5  # measured (2026-12-08, AMD EPYC Zen 3): +1.6 dB over the mean image and
# +3.0 over 0 views, both layouts


@pytest.mark.parametrize("layout", ["srn", "scene_folders"])
def test_a_tiny_model_learns_novel_views_from_each_layout(tmp_path, layout):
  frames, poses = stream.training_scenes(ROOMS, 0, 128, SIZE)
  test_frames, test_poses = stream.test_scenes(ROOMS, 32, SIZE)
  writer = posed_files.write_srn if layout == "srn" else posed_files.write_scene_folders
  writer(str(tmp_path), {"train": (frames, poses), "test": (test_frames, test_poses)})
  config = config_files.load(f"configs/{layout}.py:tiny")
  config.data.root = str(tmp_path)
  config.data.name = "srn" if layout == "srn" else layout
  config.train.batch_size = 16
  config.train.lr_initial = config.train.lr_final = 3e-3
  config.train.sigma_initial, config.train.sigma_final = 1.0, 0.1
  config.train.sigma_anneal_steps = LEARN_STEPS // 2
  posed_scenes.load.cache_clear()
  camera_scale.resolve(config)  # the run's 'auto' position scale, from the files
  model = configs.build_model(config)
  optimizer = train.build_optimizer(config.train)
  parallelism = distributed.make_parallelism()
  params, opt_state = train.init_train_state(config, model, optimizer, parallelism)
  step_fn = train.steps_for_config(config, model, optimizer, parallelism).train
  dataset = posed_scenes.load_for(config.data)
  # every training view as the reader decodes it, with the reader's poses; batches of 3 context
  # views and a query, as tests/test_learning.py's novel-view check draws them
  train_frames = np.stack([posed_scenes.read_views(scene, range(scene.num_views), SIZE)
                           for scene in dataset.scenes["train"]]).astype(np.float32) / 255
  train_poses = np.stack(dataset.poses["train"])
  rng = np.random.default_rng(0)
  for step in range(LEARN_STEPS):
    scene = rng.integers(len(train_frames), size=16)
    chosen = np.argsort(rng.random((16, train_frames.shape[1])), axis=1)[:, :4]
    rows = (scene[:, None], chosen)
    batch = views.assemble(train_frames[rows], train_poses[rows], 3, 3)
    params, opt_state, _ = step_fn(params, opt_state, batch, jnp.int32(step), train.train_key(0))

  held_out = [posed_batches.test_scene(dataset, index, 3, SIZE) for index in range(32)]
  test_frames = np.stack([frames for frames, _ in held_out]).astype(np.float32) / 255
  test_cameras = np.stack([cameras for _, cameras in held_out])
  test = {"context_frames": test_frames[:, 1:], "context_cameras": test_cameras[:, 1:],
          "query_frame": test_frames[:, 0], "query_camera": test_cameras[:, 0]}

  def psnr(images):
    return float(np.mean(image_metrics.psnr(image_metrics.mse_per_image(images,
                                                                        test["query_frame"]))))

  def prediction(mask):
    return model.apply({"params": params}, test["context_frames"], test["context_cameras"], mask,
                       test["query_camera"], method=gqn.GQN.generate,
                       rngs={"sample": jax.random.key(2)})

  with_context = psnr(prediction(np.ones((32, 3), bool)))
  without_context = psnr(prediction(np.zeros((32, 3), bool)))
  mean_image = psnr(np.broadcast_to(frames.reshape(-1, SIZE, SIZE, 3).mean(axis=0) / 255,
                                    test["query_frame"].shape))
  assert with_context > without_context + LEARN_MARGIN_DB, (with_context, without_context)
  assert with_context > mean_image + LEARN_MARGIN_DB, (with_context, mean_image)
